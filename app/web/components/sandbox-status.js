// <sandbox-status status="running">: the badge that says what a task's sandbox is doing.
// Light DOM so the board's stylesheet styles it; the text is the state itself and `data-status`
// mirrors it for styling and for tests.

export const SANDBOX_STATES = Object.freeze(['creating', 'ready', 'running', 'pushing', 'done', 'failed']);

// Shown before a task has a sandbox (no status attribute yet).
const IDLE = 'none';

export class SandboxStatus extends HTMLElement {
  static get observedAttributes() {
    return ['status'];
  }

  get status() {
    return this.getAttribute('status');
  }

  set status(value) {
    if (value === null || value === undefined) this.removeAttribute('status');
    else this.setAttribute('status', String(value));
  }

  connectedCallback() {
    // A live region per badge, so assistive technology hears the sandbox change state.
    if (!this.hasAttribute('role')) this.setAttribute('role', 'status');
    this.render();
  }

  attributeChangedCallback() {
    this.render();
  }

  render() {
    const raw = this.getAttribute('status');
    let state;
    if (raw === null || raw === '') state = IDLE;
    else if (SANDBOX_STATES.includes(raw)) state = raw;
    else state = 'unknown';
    const text = state === IDLE ? 'no sandbox' : state;
    this.dataset.status = state;
    this.textContent = text;
    this.setAttribute('aria-label', `Sandbox: ${text}`);
  }
}

if (!customElements.get('sandbox-status')) customElements.define('sandbox-status', SandboxStatus);
