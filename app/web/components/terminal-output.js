// <terminal-output>: a log of a sandbox's output. `write(text, stream)` adds a chunk; chunks are split
// into lines, and a chunk that did not end with a newline is continued by the next chunk of the same
// stream, as a terminal would show it. Text only ever goes in through textContent, so markup in the
// output is shown, never interpreted.

export class TerminalOutput extends HTMLElement {
  constructor() {
    super();
    // The line element still open (no newline seen yet), per stream.
    this._open = new Map();
  }

  connectedCallback() {
    this.setAttribute('role', 'log');
    if (!this.hasAttribute('aria-label') && !this.hasAttribute('aria-labelledby')) {
      this.setAttribute('aria-label', 'Terminal output');
    }
    // Focusable so keyboard users can scroll it.
    if (!this.hasAttribute('tabindex')) this.tabIndex = 0;
  }

  /** The text of every line, in order. */
  get lines() {
    return Array.from(this.children, (line) => line.textContent);
  }

  clear() {
    this.replaceChildren();
    this._open.clear();
  }

  write(text, stream = 'stdout') {
    if (text === null || text === undefined) return;
    const parts = String(text).split('\n');
    // "a\nb\n" splits into ["a", "b", ""]: the empty tail means the last line is complete.
    const endsOpen = parts[parts.length - 1] !== '';
    if (!endsOpen) parts.pop();
    const stickToBottom = this.scrollTop + this.clientHeight >= this.scrollHeight - 4;

    let last = null;
    parts.forEach((part, index) => {
      const open = index === 0 ? this._open.get(stream) : undefined;
      if (open) {
        open.textContent += part;
        last = open;
      } else {
        last = document.createElement('div');
        last.className = 'terminal-output__line';
        last.dataset.stream = stream;
        last.textContent = part;
        this.append(last);
      }
    });
    // The other stream may have written lines since this one's open line began: keep that line.
    if (endsOpen) this._open.set(stream, last);
    else this._open.delete(stream);

    if (stickToBottom) this.scrollTop = this.scrollHeight;
  }
}

if (!customElements.get('terminal-output')) customElements.define('terminal-output', TerminalOutput);
