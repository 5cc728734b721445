/**
 * Galactica for VS Code: a language client for galactica-lsp, a status bar item and a few commands.
 *
 * Ghost text, the completion menu, hovers and code actions come from the server through
 * vscode-languageclient; this file only wires the parts together.
 */
import * as vscode from 'vscode';

import { Server } from './client';
import { registerCommands } from './commands';
import { StatusItem } from './status';

let server: Server | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('Galactica', { log: true });
  const status = new StatusItem();
  server = new Server(output, status);
  context.subscriptions.push(output, status, server);

  registerCommands(context, server, output, status);

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration('galactica.server')) {
        await server?.restart(); // a different command: start that one
      } else if (event.affectsConfiguration('galactica')) {
        server?.settingsChanged(); // the server re-reads them and applies them live
      }
    }),
  );

  await server.start();
}

export async function deactivate(): Promise<void> {
  await server?.stop();
}
