/**
 * The language client: which server to start, the settings it reads, and what the user is told
 * when it cannot start.
 *
 * The server runs `galactica.server.command` (default `galactica-lsp`) with `galactica.server.args`,
 * or `<galactica.server.pythonPath> -m galactica_lsp`. It reads the `galactica` section (less the
 * client-only `galactica.server.*`) from `initializationOptions` and `workspace/configuration`,
 * and is told through `workspace/didChangeConfiguration` when it changes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  type Executable,
  LanguageClient,
  type LanguageClientOptions,
  State,
} from 'vscode-languageclient/node';

import { type StatusParams, StatusItem } from './status';

export const LANGUAGES = ['latex', 'tex', 'markdown', 'python'];
const SECTION = 'galactica';
const CLIENT_ONLY = ['server']; // galactica.server.*: how to start the server, not for it

export interface ServerCommand {
  command: string;
  args: string[];
}

/** The command line that starts the server, from the settings. */
export function serverCommand(): ServerCommand {
  const config = vscode.workspace.getConfiguration(`${SECTION}.server`);
  const extra = config.get<string[]>('args', []);
  const python = config.get<string>('pythonPath', '').trim();
  if (python) {
    return { command: python, args: ['-m', 'galactica_lsp', ...extra] };
  }
  return { command: config.get<string>('command', '').trim() || 'galactica-lsp', args: extra };
}

/** Whether `command` names a file (has a directory part) rather than a program to look up on PATH. */
function isPath(command: string): boolean {
  return command.includes('/') || command.includes(path.sep);
}

/** Where `command` runs from: itself if it is a path, else the first match on PATH; undefined if nowhere. */
export function findExecutable(command: string): string | undefined {
  const dirs = isPath(command) ? [''] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean);
  const suffixes = process.platform === 'win32' ? ['', ...(process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : [''];
  for (const dir of dirs) {
    for (const suffix of suffixes) {
      const candidate = path.resolve(dir, command + suffix);
      try {
        fs.accessSync(candidate, fs.constants.X_OK);
        if (fs.statSync(candidate).isFile()) {
          return candidate;
        }
      } catch {
        // not here
      }
    }
  }
  return undefined;
}

/** The `galactica` settings as the server knows them (camelCase names, no client-only ones). */
export function serverSettings(): Record<string, unknown> {
  return withoutClientOnly(JSON.parse(JSON.stringify(vscode.workspace.getConfiguration(SECTION)))) as Record<string, unknown>;
}

function withoutClientOnly(section: unknown): unknown {
  if (section === null || typeof section !== 'object' || Array.isArray(section)) {
    return section;
  }
  const copy: Record<string, unknown> = { ...(section as Record<string, unknown>) };
  for (const key of CLIENT_ONLY) {
    delete copy[key];
  }
  return copy;
}

/** Starts, stops and restarts the one language client. */
export class Server implements vscode.Disposable {
  client: LanguageClient | undefined;

  constructor(
    readonly output: vscode.LogOutputChannel,
    private readonly status: StatusItem,
  ) {}

  async start(): Promise<void> {
    const { command, args } = serverCommand();
    const found = findExecutable(command);
    if (!found) {
      const setting = command === 'galactica-lsp' ? 'galactica.server.command' : 'galactica.server';
      this.fail(
        `${command} not found ${isPath(command) ? '(no executable file there)' : "on this editor's PATH"}. ` +
          `Set galactica.server.command in your user settings to the ` +
          `server's absolute path, e.g. /path/to/galactica-lsp/.venv/bin/galactica-lsp (in a checkout, ` +
          `"python3 dev.py setup" makes it and prints it), or galactica.server.pythonPath to a Python that has ` +
          `galactica_lsp installed.`,
        setting,
      );
      return;
    }
    this.output.info(`starting ${[found, ...args].join(' ')}`);
    const executable: Executable = { command: found, args, options: { env: { ...process.env } } };
    const client = new LanguageClient('galactica', 'Galactica', executable, this.clientOptions());
    client.onNotification('galactica/status', (params: StatusParams) => this.status.update(params));
    client.onDidChangeState(({ newState }) => {
      if (newState === State.Stopped && this.client === client) {
        this.status.stopped();
      }
    });
    this.client = client;
    this.status.starting();
    try {
      await client.start();
    } catch (error) {
      this.client = undefined;
      const why = error instanceof Error ? error.message : String(error);
      this.fail(`the language server (${[command, ...args].join(' ')}) did not start: ${why}`, 'galactica.server');
    }
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client?.needsStop()) {
      await client.stop(5000).catch((error) => this.output.warn(`stopping the server: ${error}`));
    }
    this.status.stopped();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** The server pulls the settings again (workspace/configuration) when told that they changed. */
  settingsChanged(): void {
    if (this.client?.isRunning()) {
      void this.client.sendNotification(DidChangeConfigurationNotification.type, { settings: null });
    }
  }

  /** The running client, or undefined with a message saying why there is none. */
  running(): LanguageClient | undefined {
    if (this.client?.isRunning()) {
      return this.client;
    }
    void vscode.window.showWarningMessage('Galactica: the language server is not running.', 'Restart server', 'Show log')
      .then((choice) => choice && vscode.commands.executeCommand(choice === 'Show log' ? 'galactica.showLog' : 'galactica.restart'));
    return undefined;
  }

  dispose(): void {
    void this.stop();
  }

  private clientOptions(): LanguageClientOptions {
    return {
      documentSelector: LANGUAGES.flatMap((language) => [
        { scheme: 'file', language },
        { scheme: 'untitled', language },
      ]),
      outputChannel: this.output,
      initializationOptions: () => ({ [SECTION]: serverSettings() }),
      middleware: {
        // "Suggest citations here": the server's galactica.pickCitation runs the extension's quick pick instead.
        provideCodeActions: async (document, range, context, token, next) => {
          const actions = await next(document, range, context, token);
          for (const action of actions ?? []) {
            const command = action instanceof vscode.CodeAction ? action.command : action;
            if (command && command.command === 'galactica.pickCitation') {
              command.command = 'galactica.cite';
            }
          }
          return actions;
        },
        workspace: {
          // The `galactica` section as the server knows it: without the client-only settings.
          configuration: async (params, token, next) => {
            const answer = await next(params, token);
            if (!Array.isArray(answer)) {
              return answer;
            }
            return answer.map((value, i) => (params.items[i]?.section === SECTION ? withoutClientOnly(value) : value));
          },
        },
      },
    };
  }

  private fail(message: string, setting: string): void {
    this.output.error(message);
    this.status.failed(message);
    void vscode.window.showErrorMessage(`Galactica: ${message}`, 'Open settings', 'Show log').then((choice) => {
      if (choice === 'Open settings') {
        void vscode.commands.executeCommand('workbench.action.openSettings', setting);
      } else if (choice === 'Show log') {
        this.output.show();
      }
    });
  }
}
