// <connection-status state="live|reconnecting|connecting">: whether the board's event stream is up.
// The text is the state, so a glance (or a test) tells whether updates are arriving.

const STATES = ['connecting', 'live', 'reconnecting'];

export class ConnectionStatus extends HTMLElement {
  static get observedAttributes() {
    return ['state'];
  }

  get state() {
    return this.dataset.state;
  }

  set state(value) {
    this.setAttribute('state', value);
  }

  connectedCallback() {
    this.setAttribute('role', 'status');
    this.render();
  }

  attributeChangedCallback() {
    this.render();
  }

  render() {
    const raw = this.getAttribute('state');
    const state = STATES.includes(raw) ? raw : 'connecting';
    this.dataset.state = state;
    this.textContent = state;
    this.setAttribute('aria-label', `Event stream: ${state}`);
  }
}

if (!customElements.get('connection-status')) customElements.define('connection-status', ConnectionStatus);
