// The expman VS Code extension: a thin client for `expman lsp`.
//
// Everything that understands expman configs lives in the server (the Rust
// crate expman-lsp, started as `<expman.server.path> lsp`). This file only
// starts it for YAML documents, forwards the `expman` settings, and gives
// the `expman/mergePreview` request and the code lenses a read-only editor.

import * as os from "os";
import * as path from "path";
import * as vscode from "vscode";
import {
  DidChangeConfigurationNotification,
  LanguageClient,
  LanguageClientOptions,
  RequestType,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

/** `expman/mergePreview`: the fully resolved config of one run of a trial. */
interface MergePreviewParams {
  textDocument: { uri: string };
  /** The full trial name; sweep children look like `lr_sweep[training.lr=0.01]`. */
  trial: string;
  /** 1-based; the server defaults to 1. */
  repeat?: number;
}

interface MergePreviewResult {
  title: string;
  /** The merged config as YAML, secrets masked. */
  yaml: string;
}

const mergePreviewRequest = new RequestType<MergePreviewParams, MergePreviewResult, void>(
  "expman/mergePreview",
);

const PREVIEW_SCHEME = "expman-preview";

let client: LanguageClient | undefined;
let output: vscode.OutputChannel | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel("expman");
  const previews = new PreviewProvider();
  context.subscriptions.push(
    output,
    vscode.workspace.registerTextDocumentContentProvider(PREVIEW_SCHEME, previews),
    vscode.commands.registerCommand("expman.showMergePreview", (uri?: unknown, trial?: unknown, repeat?: unknown) =>
      showMergePreview(previews, uri, trial, repeat),
    ),
    vscode.commands.registerCommand("expman.restartServer", restartClient),
    vscode.workspace.onDidChangeConfiguration(onDidChangeConfiguration),
  );
  await startClient();
}

export function deactivate(): Promise<void> {
  return stopClient();
}

/** The `expman` settings section as the server sees it: everything but `server`. */
function serverSettings(scope?: vscode.Uri): Record<string, unknown> {
  const section = JSON.parse(JSON.stringify(vscode.workspace.getConfiguration("expman", scope))) as Record<
    string,
    unknown
  >;
  delete section.server;
  return section;
}

/** `expman.server.path`, with `~/` expanded and a relative path taken from the first workspace folder. */
function serverCommand(): string {
  let command = vscode.workspace.getConfiguration("expman").get<string>("server.path", "expman").trim() || "expman";
  if (command === "~" || command.startsWith("~/")) {
    command = path.join(os.homedir(), command.slice(1));
  }
  const hasSeparator = command.includes("/") || command.includes(path.sep);
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (hasSeparator && !path.isAbsolute(command) && folder !== undefined && folder.uri.scheme === "file") {
    command = path.join(folder.uri.fsPath, command);
  }
  return command;
}

async function startClient(): Promise<void> {
  const command = serverCommand();
  const serverOptions: ServerOptions = {
    command,
    args: ["lsp"],
    transport: TransportKind.stdio,
  };
  const clientOptions: LanguageClientOptions = {
    // Every YAML file on disk or unsaved; the server ignores YAML that is
    // not an expman config. Previews (expman-preview:) are left out.
    documentSelector: [
      { scheme: "file", language: "yaml" },
      { scheme: "untitled", language: "yaml" },
    ],
    initializationOptions: serverSettings(),
    outputChannel: output,
    middleware: {
      workspace: {
        // Answer `workspace/configuration` for `expman` without `server`.
        configuration: async (params, token, next) => {
          const answer = await next(params, token);
          if (!Array.isArray(answer)) {
            return answer;
          }
          return answer.map((value, i) => {
            const item = params.items[i];
            return item?.section === "expman"
              ? serverSettings(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined)
              : value;
          });
        },
      },
    },
  };

  const created = new LanguageClient("expman", "expman language server", serverOptions, clientOptions);
  client = created;
  try {
    await created.start();
  } catch (error) {
    if (client === created) {
      client = undefined;
    }
    const reason = error instanceof Error ? error.message : String(error);
    output?.appendLine(`could not start "${command} lsp": ${reason}`);
    const openSettings = "Open Settings";
    const choice = await vscode.window.showErrorMessage(
      `expman: could not start the language server "${command} lsp" (${reason}). ` +
        `Install expman, or set "expman.server.path" to the expman executable, then run "expman: Restart language server".`,
      openSettings,
    );
    if (choice === openSettings) {
      await vscode.commands.executeCommand("workbench.action.openSettings", "expman.server.path");
    }
  }
}

async function stopClient(): Promise<void> {
  const running = client;
  client = undefined;
  if (running === undefined) {
    return;
  }
  try {
    await running.dispose();
  } catch (error) {
    // A client that never started cannot be stopped; nothing is left to clean up.
    output?.appendLine(`stopping the language server: ${error instanceof Error ? error.message : String(error)}`);
  }
}

async function restartClient(): Promise<void> {
  await stopClient();
  await startClient();
}

async function onDidChangeConfiguration(event: vscode.ConfigurationChangeEvent): Promise<void> {
  if (event.affectsConfiguration("expman.server")) {
    await restartClient();
    return;
  }
  if (event.affectsConfiguration("expman") && client?.isRunning()) {
    // Push the new values; a server that prefers the pull model can also
    // ask with workspace/configuration.
    await client.sendNotification(DidChangeConfigurationNotification.type, {
      settings: { expman: serverSettings() },
    });
  }
}

/**
 * `expman.showMergePreview`: from a code lens with `[uri, trial]`, or from the
 * command palette, where it asks for the trial of the active YAML file.
 */
async function showMergePreview(
  previews: PreviewProvider,
  uriArg: unknown,
  trialArg: unknown,
  repeatArg: unknown,
): Promise<void> {
  let uri = typeof uriArg === "string" ? uriArg : uriArg instanceof vscode.Uri ? uriArg.toString() : undefined;
  if (uri === undefined) {
    const editor = vscode.window.activeTextEditor;
    if (editor === undefined || editor.document.languageId !== "yaml") {
      void vscode.window.showErrorMessage("expman: open an expman trials file to preview a merged config.");
      return;
    }
    uri = editor.document.uri.toString();
  }
  let trial = typeof trialArg === "string" ? trialArg : undefined;
  if (trial === undefined) {
    trial = await vscode.window.showInputBox({
      title: "expman: Preview merged config",
      prompt: "Trial name (sweep children by their full name, e.g. lr_sweep[training.lr=0.01])",
      ignoreFocusOut: true,
    });
    if (!trial) {
      return;
    }
  }
  const repeat = typeof repeatArg === "number" && repeatArg >= 1 ? repeatArg : undefined;

  if (client === undefined || !client.isRunning()) {
    void vscode.window.showErrorMessage(
      'expman: the language server is not running; check "expman.server.path" and run "expman: Restart language server".',
    );
    return;
  }

  const params: MergePreviewParams = { textDocument: { uri }, trial };
  if (repeat !== undefined) {
    params.repeat = repeat;
  }
  let result: MergePreviewResult;
  try {
    result = await client.sendRequest(mergePreviewRequest, params);
  } catch (error) {
    void vscode.window.showErrorMessage(
      `expman: no merged config for trial "${trial}": ${error instanceof Error ? error.message : String(error)}`,
    );
    return;
  }

  const previewUri = previews.set(uri, trial, repeat, result);
  let document = await vscode.workspace.openTextDocument(previewUri);
  if (document.languageId !== "yaml") {
    document = await vscode.languages.setTextDocumentLanguage(document, "yaml");
  }
  await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: true });
}

/**
 * Read-only documents under `expman-preview:`, one per (file, trial, repeat);
 * asking again for the same trial refreshes the open preview.
 */
class PreviewProvider implements vscode.TextDocumentContentProvider {
  private readonly texts = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  set(source: string, trial: string, repeat: number | undefined, result: MergePreviewResult): vscode.Uri {
    // The tab shows the path's last segment, so it carries the title
    // ("t, repeat 2/2, seed 1"): slashes become U+2215 DIVISION SLASH.
    const name = (result.title || `${trial} (merged)`).replace(/[\\/]/g, "\u2215");
    const query = new URLSearchParams({ source, trial, repeat: String(repeat ?? 1) }).toString();
    const uri = vscode.Uri.from({ scheme: PREVIEW_SCHEME, path: `/${name}.yaml`, query });
    const key = uri.toString();
    const known = this.texts.has(key);
    this.texts.set(key, result.yaml);
    if (known) {
      this.changed.fire(uri);
    }
    return uri;
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return (
      this.texts.get(uri.toString()) ??
      '# This preview is no longer available; run "expman: Preview merged config" again.\n'
    );
  }
}
