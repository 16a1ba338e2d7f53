// A minimal Language Server Protocol client for tests/cli/lsp.sh: starts
// yaml-language-server over stdio (JSON-RPC with Content-Length framing,
// LSP 3.17 "Base Protocol"), opens files and prints what an editor would
// show.  No dependencies beyond Node.js and the server itself.
//
//   node lsp-client.mjs SERVER [--schema FILE] diagnostics FILE...
//       one line per diagnostic, "FILE:LINE:COL: MESSAGE" (1-based, as
//       vmspec check prints them), or "FILE: no diagnostics"
//   node lsp-client.mjs SERVER [--schema FILE] complete FILE LINE COL
//       one line per completion item: "LABEL\tINSERT_TEXT"
//   node lsp-client.mjs SERVER [--schema FILE] hover FILE LINE COL
//       the hover's text
//
// --schema maps FILE (a JSON Schema) to every document through the
// yaml.schemas setting; without it documents get the schema their
// `# yaml-language-server: $schema=` line names, as in an editor.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const usage = "usage: lsp-client.mjs SERVER [--schema FILE] " +
    "diagnostics FILE... | complete FILE LINE COL | hover FILE LINE COL";

function parseArgs(argv) {
    const args = { server: argv[0], schema: null };
    let rest = argv.slice(1);

    if (rest[0] === "--schema") {
        args.schema = rest[1];
        rest = rest.slice(2);
    }
    args.command = rest[0];
    args.files = rest.slice(1);
    if (!args.server || !["diagnostics", "complete", "hover"]
        .includes(args.command) || args.files.length === 0 ||
        (args.command !== "diagnostics" && args.files.length !== 3)) {
        console.error(usage);
        process.exit(2);
    }
    return args;
}

// The JSON-RPC connection: requests we send get promises, requests the
// server sends get the answers an editor without those features gives.
class Connection {
    constructor(child) {
        this.child = child;
        this.nextId = 1;
        this.pending = new Map();
        this.onNotification = () => {};
        this.buffer = Buffer.alloc(0);
        this.configured = new Promise((resolve) => {
            this.markConfigured = resolve;
        });
        child.stdout.on("data", (chunk) => this.receive(chunk));
    }

    send(message) {
        const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0",
                                                  ...message }));
        this.child.stdin.write(`Content-Length: ${body.length}\r\n\r\n`);
        this.child.stdin.write(body);
    }

    request(method, params) {
        const id = this.nextId++;

        this.send({ id, method, params });
        return new Promise((resolve, reject) => {
            this.pending.set(id, { resolve, reject });
        });
    }

    notify(method, params) {
        this.send({ method, params });
    }

    receive(chunk) {
        this.buffer = Buffer.concat([this.buffer, chunk]);
        for (;;) {
            const end = this.buffer.indexOf("\r\n\r\n");
            if (end < 0) {
                return;
            }
            const header = this.buffer.subarray(0, end).toString();
            const match = /Content-Length: *(\d+)/i.exec(header);
            if (!match) {
                throw new Error(`bad LSP header: ${header}`);
            }
            const start = end + 4, length = Number(match[1]);
            if (this.buffer.length < start + length) {
                return;
            }
            const message = JSON.parse(this.buffer.subarray(start,
                start + length).toString());
            this.buffer = this.buffer.subarray(start + length);
            this.dispatch(message);
        }
    }

    dispatch(message) {
        if (message.id !== undefined && message.method === undefined) {
            const waiter = this.pending.get(message.id);
            this.pending.delete(message.id);
            if (message.error) {
                waiter.reject(new Error(message.error.message));
            } else {
                waiter.resolve(message.result);
            }
        } else if (message.id !== undefined) {
            this.answer(message);
        } else {
            this.onNotification(message);
        }
    }

    // workspace/configuration asks for settings by section; everything
    // else (client/registerCapability, window/workDoneProgress/create,
    // the server's custom schema requests) gets null.
    answer(message) {
        let result = null;

        if (message.method === "workspace/configuration") {
            result = message.params.items.map((item) =>
                item.section === "yaml" ? this.settings.yaml
                    : item.section === undefined ? this.settings : null);
        }
        this.send({ id: message.id, result });
        if (message.method === "workspace/configuration" &&
            message.params.items.some((item) => item.section === "yaml")) {
            this.markConfigured();
        }
    }
}

function yamlSettings(schema) {
    return {
        validate: true,
        hover: true,
        completion: true,
        format: { enable: false },
        // No network: never fetch the SchemaStore catalog.
        schemaStore: { enable: false },
        schemas: schema ? { [pathToFileURL(resolve(schema)).href]: "*" }
            : {},
    };
}

function position(line, col) {
    return { line: Number(line) - 1, character: Number(col) - 1 };
}

function hoverText(hover) {
    if (!hover) {
        return "";
    }
    const contents = Array.isArray(hover.contents) ? hover.contents
        : [hover.contents];
    return contents.map((c) => typeof c === "string" ? c : c.value)
        .join("\n");
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const child = spawn(process.execPath, [args.server, "--stdio"],
                        { stdio: ["pipe", "pipe", "inherit"] });
    const conn = new Connection(child);
    const uris = args.files.slice(0, args.command === "diagnostics"
        ? undefined : 1).map((f) => pathToFileURL(resolve(f)).href);
    const diagnostics = new Map();
    let allPublished;
    const published = new Promise((resolve) => { allPublished = resolve; });

    conn.settings = { yaml: yamlSettings(args.schema) };
    conn.onNotification = (message) => {
        if (message.method !== "textDocument/publishDiagnostics" ||
            !uris.includes(message.params.uri)) {
            return;
        }
        diagnostics.set(message.params.uri, message.params.diagnostics);
        if (diagnostics.size === uris.length) {
            allPublished();
        }
    };
    child.on("exit", (code) => {
        console.error(`lsp-client: the server exited (status ${code})`);
        process.exit(1);
    });

    await conn.request("initialize", {
        processId: process.pid,
        rootUri: null,
        capabilities: {
            workspace: { configuration: true,
                         didChangeConfiguration: {} },
            textDocument: {
                publishDiagnostics: {},
                completion: { completionItem: { snippetSupport: true } },
                hover: { contentFormat: ["plaintext"] },
            },
        },
        initializationOptions: conn.settings,
    });
    conn.notify("initialized", {});
    conn.notify("workspace/didChangeConfiguration",
                { settings: conn.settings });
    // The server pulls its settings on that notification; a document
    // opened before they arrive is validated twice, first without them.
    await conn.configured;
    uris.forEach((uri, i) => {
        conn.notify("textDocument/didOpen", { textDocument: {
            uri, languageId: "yaml", version: 1,
            text: readFileSync(args.files[i], "latin1") } });
    });
    // The first diagnostics of a document come once its schema is loaded,
    // so completion and hover wait for them too.
    await published;

    if (args.command === "diagnostics") {
        args.files.forEach((file, i) => {
            const list = diagnostics.get(uris[i]);
            if (list.length === 0) {
                console.log(`${file}: no diagnostics`);
            }
            for (const d of list) {
                const { line, character } = d.range.start;
                const text = d.message.replace(/\s+/g, " ");
                console.log(`${file}:${line + 1}:${character + 1}: ${text}`);
            }
        });
    } else {
        const [, line, col] = args.files;
        const params = { textDocument: { uri: uris[0] },
                         position: position(line, col) };

        if (args.command === "complete") {
            const result = await conn.request("textDocument/completion",
                                              params);
            const items = Array.isArray(result) ? result
                : result?.items ?? [];
            for (const item of items) {
                const insert = (item.textEdit?.newText ?? item.insertText ??
                                item.label).replace(/\n/g, "\\n");
                console.log(`${item.label}\t${insert}`);
            }
        } else {
            console.log(hoverText(await conn.request("textDocument/hover",
                                                     params)));
        }
    }
    child.removeAllListeners("exit");
    await conn.request("shutdown", null);
    conn.notify("exit", null);
}

main().catch((e) => {
    console.error(`lsp-client: ${e.message}`);
    process.exit(1);
});
