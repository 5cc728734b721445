/**
 * The status bar item, driven by the server's `galactica/status` notifications: the model loading
 * (with a percentage), ready, busy or failed. A click runs "Galactica: Show status".
 */
import * as vscode from 'vscode';

/** The params of `galactica/status`. */
export interface StatusParams {
  state: 'loading' | 'ready' | 'busy' | 'error' | 'empty';
  message: string;
  model?: string;
  device?: string;
  dtype?: string;
  percentage?: number;
}

const ICONS: Record<string, string> = {
  starting: '$(sync~spin)',
  loading: '$(sync~spin)',
  ready: '$(sparkle)',
  busy: '$(loading~spin)',
  error: '$(error)',
  empty: '$(circle-slash)',
  stopped: '$(circle-slash)',
};

/** The item's text without its icon: "Galactica: loading 40%", "Galactica: ready (tiny, cpu)", … */
export function statusText(s: StatusParams): string {
  if (s.state === 'loading' && s.percentage !== undefined) {
    return `Galactica: loading ${s.percentage}%`;
  }
  if ((s.state === 'ready' || s.state === 'busy') && s.model) {
    return `Galactica: ${s.state} (${s.model}, ${s.device ?? '?'})`;
  }
  return `Galactica: ${s.state}`;
}

export class StatusItem implements vscode.Disposable {
  /** The last notification, for "Show status". */
  last: StatusParams | undefined;
  private readonly item = vscode.window.createStatusBarItem('galactica.status', vscode.StatusBarAlignment.Right, 100);

  constructor() {
    this.item.name = 'Galactica';
    this.item.command = 'galactica.showStatus';
    this.starting();
    this.item.show();
  }

  update(params: StatusParams): void {
    this.last = params;
    this.show(params.state, statusText(params), params.message, params);
  }

  starting(): void {
    this.show('starting', 'Galactica: starting', 'Starting the language server');
  }

  stopped(): void {
    this.show('stopped', 'Galactica: stopped', 'The language server is not running');
  }

  failed(message: string): void {
    this.last = { state: 'error', message };
    this.show('error', 'Galactica: error', message);
  }

  dispose(): void {
    this.item.dispose();
  }

  private show(state: string, text: string, message: string, params?: StatusParams): void {
    this.item.text = `${ICONS[state] ?? ''} ${text}`;
    const tooltip = new vscode.MarkdownString(`**Galactica** · ${state}\n\n`);
    tooltip.appendText(message);
    if (params?.model) {
      tooltip.appendMarkdown(`\n\n${[params.model, params.device, params.dtype].filter(Boolean).join(' · ')}`);
    }
    tooltip.appendMarkdown('\n\n*Click for details*');
    this.item.tooltip = tooltip;
    this.item.backgroundColor =
      state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
  }
}
