"""MCP servers written with the official Python SDK, fronted by the mcp_upstream tests."""
