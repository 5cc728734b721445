/**
 * The palette commands: citations in a quick pick, formula explanations, continuing a paragraph,
 * and restart / log / status. Each sends `workspace/executeCommand` to the server's commands
 * (`galactica.suggestCitations` then `galactica.insertCitation`, `galactica.explainFormula`, `galactica.continueParagraph`,
 * `galactica.status`); the server inserts explanations and continuations itself (workspace/applyEdit).
 */
import * as vscode from 'vscode';
import { ExecuteCommandRequest, type LanguageClient, LSPErrorCodes, ResponseError } from 'vscode-languageclient/node';

import { type Server, serverCommand } from './client';
import type { StatusItem } from './status';

const STATUS_URI = vscode.Uri.from({ scheme: 'galactica-status', path: '/Galactica status.json' });

interface Suggestion {
  text: string;
  title: string;
  author: string | null;
  confidence: number;
  likelyMadeUp: boolean;
  label: string;
  library: { key: string; file: string | null; similarity: number } | null;
  key: string;
  inLibrary: boolean;
  edit: { range: object; newText: string } | null;
  // galactica.verify's check of a paper not in the library (null for a library entry).
  verification: { state: string; summary: string; text: string } | null;
}

interface Explanation {
  latex: string;
  mode: string;
  text: string;
  confidence: number;
  finishReason: string;
  inserted: boolean;
}

export function registerCommands(
  context: vscode.ExtensionContext,
  server: Server,
  output: vscode.LogOutputChannel,
  status: StatusItem,
): void {
  const statusDocument = new StatusDocument();
  const command = (name: string, run: () => unknown) => vscode.commands.registerCommand(name, run);
  context.subscriptions.push(
    vscode.workspace.registerTextDocumentContentProvider(STATUS_URI.scheme, statusDocument),
    vscode.commands.registerCommand('galactica.cite', (at?: CiteAt) => cite(server, at)),
    command('galactica.explain', () => explain(server, 'explain')),
    command('galactica.explainSteps', () => explain(server, 'work')),
    command('galactica.toSympy', () => explain(server, 'sympy')),
    command('galactica.continue', () => continueParagraph(server)),
    command('galactica.restart', () => server.restart()),
    command('galactica.showLog', () => output.show()),
    command('galactica.showStatus', () => statusDocument.show(server, status)),
  );
}

/** workspace/executeCommand with one object argument; undefined (with a message) when it failed. */
async function execute<T>(client: LanguageClient, command: string, argument?: object): Promise<T | undefined> {
  try {
    return await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: argument ? [argument] : [] });
  } catch (error) {
    if (error instanceof ResponseError && error.code === LSPErrorCodes.RequestCancelled) {
      return undefined;
    }
    void vscode.window.showWarningMessage(`Galactica: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

/** The active editor and the running client, or undefined. */
function target(server: Server): [vscode.TextEditor, LanguageClient] | undefined {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showInformationMessage('Galactica: open a LaTeX, Markdown or Python file first.');
    return undefined;
  }
  const client = server.running();
  return client ? [editor, client] : undefined;
}

// Citations -------------------------------------------------------------------------------------

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Where to cite: the code action's `{uri, position}` (protocol form), else the active editor's cursor. */
interface CiteAt {
  uri: string;
  position: { line: number; character: number };
}

/**
 * Pick a suggestion in a quick pick; the server cites it (`galactica.insertCitation`: the key from the
 * user's library or a suggested key, in the syntax of the place). No insertion logic here.
 */
async function cite(server: Server, at?: CiteAt): Promise<void> {
  const found = target(server);
  if (!found) {
    return;
  }
  const [editor, client] = found;
  const where = at ?? {
    uri: client.code2ProtocolConverter.asUri(editor.document.uri),
    position: client.code2ProtocolConverter.asPosition(editor.selection.active),
  };
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: 'Galactica: looking for references' },
    () => execute<{ suggestions: Suggestion[]; message: string }>(client, 'galactica.suggestCitations', where),
  );
  if (!result) {
    return;
  }
  if (result.suggestions.length === 0) {
    void vscode.window.showInformationMessage(`Galactica: ${result.message || 'no reference to suggest here'}`);
    return;
  }
  const picked = await vscode.window.showQuickPick(
    result.suggestions.map((s, index) => ({
      label: oneLine(s.title),
      description: s.author ? oneLine(s.author) : 'author unknown',
      detail:
        (s.inLibrary ? `$(library) in your library: ${s.key} · ` : `not in your library (key ${s.key}) · `) +
        `${Math.round(s.confidence * 100)}% sure` +
        (s.verification && s.verification.state !== 'off' ? ` · ${s.verification.summary}` : '') +
        (s.likelyMadeUp ? '  $(warning) likely made up: check that it exists' : ''),
      index,
    })),
    { title: 'Cite (Galactica can invent papers: check them)', placeHolder: 'Pick a reference to cite', matchOnDescription: true },
  );
  if (picked) {
    const answer = await execute<{ applied: boolean; key: string; inLibrary: boolean; message: string }>(
      client,
      'galactica.insertCitation',
      { ...where, index: picked.index },
    );
    if (answer && !answer.applied && answer.message) {
      void vscode.window.showInformationMessage(`Galactica: ${answer.message}`);
    }
  }
}

// Formulas and paragraphs (the server inserts the text) -----------------------------------------

async function explain(server: Server, mode: 'explain' | 'work' | 'sympy'): Promise<void> {
  const found = target(server);
  if (!found) {
    return;
  }
  const [editor, client] = found;
  const result = await execute<Explanation>(client, 'galactica.explainFormula', {
    uri: client.code2ProtocolConverter.asUri(editor.document.uri),
    range: client.code2ProtocolConverter.asRange(editor.selection),
    mode,
    insert: true,
  });
  if (result && !result.inserted) {
    const why = result.text ? result.text : 'the model had nothing to say';
    void vscode.window.showInformationMessage(`Galactica on ${result.latex}: ${why}`);
  }
}

async function continueParagraph(server: Server): Promise<void> {
  const found = target(server);
  if (!found) {
    return;
  }
  const [editor, client] = found;
  const result = await execute<{ text: string; inserted: boolean }>(client, 'galactica.continueParagraph', {
    uri: client.code2ProtocolConverter.asUri(editor.document.uri),
    position: client.code2ProtocolConverter.asPosition(editor.selection.active),
  });
  if (result && !result.text) {
    void vscode.window.showInformationMessage('Galactica: the model had nothing to add here.');
  }
}

// Status ----------------------------------------------------------------------------------------

/** A read-only JSON document with what the server says about itself (`galactica.status`). */
class StatusDocument implements vscode.TextDocumentContentProvider {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private content = '{}';

  provideTextDocumentContent(): string {
    return this.content;
  }

  async show(server: Server, status: StatusItem): Promise<void> {
    const client = server.client?.isRunning() ? server.client : undefined;
    const details = {
      server: client ? await execute<object>(client, 'galactica.status') : 'not running',
      lastStatus: status.last ?? null,
      command: serverCommand(),
    };
    this.content = JSON.stringify(details, null, 2) + '\n';
    this.changed.fire(STATUS_URI);
    const document = await vscode.workspace.openTextDocument(STATUS_URI);
    await vscode.languages.setTextDocumentLanguage(document, 'json');
    await vscode.window.showTextDocument(document, { preview: true, viewColumn: vscode.ViewColumn.Beside });
  }
}
