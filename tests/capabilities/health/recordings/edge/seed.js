"use strict";
const path = require("path");
const kreq = require("module").createRequire(path.join(process.env.SRC, "package.json"));
const { io } = kreq("socket.io-client");
const v2 = parseInt(kreq("./package.json").version, 10) >= 2;
const USER = "admin", PASS = "local-pass-123";
const WEB = process.env.WEB;
const s = io(process.env.URL, { transports: [ "websocket" ], reconnection: false });
let needSetup = false;
s.on("setup", () => { needSetup = true; });
const call = (ev, ...a) => new Promise((ok, fail) => {
    const t = setTimeout(() => fail(new Error("timeout " + ev)), 30000);
    s.emit(ev, ...a, (r) => { clearTimeout(t); r && r.ok === false ? fail(new Error(ev + ": " + JSON.stringify(r))) : ok(r); });
});
const form = {
    parent: null, method: "GET", interval: 20, retryInterval: 20, resendInterval: 0, maxretries: 0,
    timeout: 16, upsideDown: false, ignoreTls: false, maxredirects: 10, accepted_statuscodes: [ "200-299" ],
    notificationIDList: {}, packetSize: 56, expiryNotification: false, dns_resolve_type: "A",
    dns_resolve_server: v2 ? "" : "1.1.1.1", docker_container: "", docker_host: null, proxyId: null,
    mqttUsername: "", mqttPassword: "", mqttTopic: "", mqttSuccessMessage: "", authMethod: null,
    oauth_auth_method: "client_secret_basic", httpBodyEncoding: "json", gamedigGivenPortOnly: true,
    kafkaProducerBrokers: [], kafkaProducerSaslOptions: { mechanism: "None" }, kafkaProducerSsl: false,
    kafkaProducerAllowAutoTopicCreation: false,
    ...(v2 ? { conditions: [], rabbitmqNodes: [], rabbitmqUsername: "", rabbitmqPassword: "", cacheBust: false,
        remote_browser: null, ipFamily: null, mqttWebsocketPath: "", mqttCheckType: "keyword" } : {}),
};
const add = async (m) => (await call("add", { ...form, ...m })).monitorID;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
s.on("connect", async () => {
    try {
        await sleep(500);
        if (needSetup) await call("setup", USER, PASS);
        await call("login", { username: USER, password: PASS, token: "" });
        s.emit("initServerTimezone", "UTC");
        const CLOSED = "http://127.0.0.1:3919/";
        const ids = {
            ok: await add({ name: "Web OK", type: "http", url: WEB }),
            twin: await add({ name: "Web OK", type: "http", url: CLOSED }),          // same name, private, down
            vault: await add({ name: "Vault", type: "http", url: WEB + "vault" }),   // private, on no page
            secretpage: await add({ name: "Hidden On Page", type: "http", url: WEB }), // private, on a page without tags
            creds: await add({ name: "With Creds", type: "http", url: "http://kumauser:kumapass99@127.0.0.1:3911/?token=qs-secret" }),
            paused: await add({ name: "Paused Web", type: "http", url: CLOSED }),
            dup: await add({ name: "Tag Twice", type: "http", url: WEB }),
        };
        const env = (await call("addTag", { name: "env", color: "#2563EB" })).tag;
        const priv = (await call("addTag", { name: "private", color: "#DC2626" })).tag;
        await call("addMonitorTag", env.id, ids.ok, "lab");
        await call("addMonitorTag", priv.id, ids.twin, "");
        await call("addMonitorTag", priv.id, ids.vault, "");
        await call("addMonitorTag", priv.id, ids.secretpage, "");
        await call("addMonitorTag", env.id, ids.dup, "lab");
        await call("addMonitorTag", env.id, ids.dup, "lab");     // the same tag listed twice
        await sleep(4000);                                        // let "Paused Web" beat (DOWN) once
        await call("pauseMonitor", ids.paused);
        await call("addStatusPage", "Homelab", "lab");
        await call("addStatusPage", "No Tags", "notags");
        const base = { description: "", logo: "", theme: "auto", footerText: "", customCSS: "", showPoweredBy: true,
            showCertificateExpiry: false, domainNameList: [], googleAnalyticsId: "",
            ...(v2 ? { autoRefreshInterval: 300, rssTitle: "", showOnlyLastHeartbeat: false,
                analyticsId: null, analyticsScriptUrl: null, analyticsType: null } : {}) };
        await call("saveStatusPage", "lab", { ...base, slug: "lab", title: "Homelab", showTags: true }, "", [
            { name: "Core", monitorList: [ { id: ids.ok }, { id: ids.creds, sendUrl: true }, { id: ids.paused }, { id: ids.dup } ] } ]);
        await call("saveStatusPage", "notags", { ...base, slug: "notags", title: "No Tags", showTags: false }, "", [
            { name: "Misc", monitorList: [ { id: ids.secretpage } ] } ]);
        await call("postIncident", "lab", { title: "Router 10.0.0.1.", style: "warning",
            content: "Moved to 10.0.0.1. Also fe80::1 and admin:hunter2@nas.lan:5000 are flaky" });
        const key = await call("addAPIKey", { name: "local-key", expires: null, active: 1 });
        console.log(JSON.stringify({ ids, apiKey: key.key }));
        process.exit(0);
    } catch (e) { console.error(e.message); process.exit(1); }
});
