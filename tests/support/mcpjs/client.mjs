// Drives an official TypeScript MCP client against a running labgate, for the MCP tests.
//
// Usage: node client.mjs '<json>'   with
//   {"url": "http://127.0.0.1:PORT/mcp", "token": "...",
//    "sdk": "v1" | "v2",                      v1: @modelcontextprotocol/sdk (2025-11-25 only)
//    "mode": "legacy" | "auto" | "2026-07-28", v2 only: @modelcontextprotocol/client negotiation
//    "calls": [{"name": "...", "arguments": {...}}, ...]}
//
// Prints one JSON line: {"protocolVersion", "tools": [Tool...], "results": [CallToolResult...]}
// or {"error": "..."} with exit status 1. Every call's result is reported as the client returned
// it, after the client's own checks (output schema validation included).
import * as v1 from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as V1Transport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import * as v2 from '@modelcontextprotocol/client';

const spec = JSON.parse(process.argv[2]);
const info = { name: 'labgate-tests', version: '0.0.0' };
const init = { headers: { Authorization: `Bearer ${spec.token}` } };

function connectV1() {
  const transport = new V1Transport(new URL(spec.url), { requestInit: init });
  return { client: new v1.Client(info), transport };
}

function connectV2() {
  const transport = new v2.StreamableHTTPClientTransport(new URL(spec.url), { requestInit: init });
  const mode = spec.mode === 'legacy' || spec.mode === 'auto' ? spec.mode : { pin: spec.mode };
  return { client: new v2.Client(info, { versionNegotiation: { mode } }), transport };
}

async function main() {
  const { client, transport } = spec.sdk === 'v1' ? connectV1() : connectV2();
  await client.connect(transport);
  try {
    const { tools } = await client.listTools();
    const results = [];
    for (const call of spec.calls ?? []) {
      results.push(await client.callTool({ name: call.name, arguments: call.arguments ?? {} }));
    }
    const protocolVersion = transport.protocolVersion ?? client.protocolVersion ?? null;
    process.stdout.write(JSON.stringify({ protocolVersion, tools, results }) + '\n');
  } finally {
    if (typeof transport.terminateSession === 'function' && transport.sessionId) {
      await transport.terminateSession();
    }
    await client.close();
  }
}

main().catch((err) => {
  process.stdout.write(JSON.stringify({ error: String(err?.message ?? err) }) + '\n');
  process.exit(1);
});
