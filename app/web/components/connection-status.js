// <connection-status state="live|reconnecting|connecting" last-event-id="42">: whether the board's
// event stream is up. The text is the state, so a glance (or a test) tells whether updates are
// arriving; the stream's position (the id of the last event received, which a reconnect resumes
// after) is in its tooltip and `data-last-event-id`.

const STATES = ['connecting', 'live', 'reconnecting'];

export class ConnectionStatus extends HTMLElement {
  static get observedAttributes() {
    return ['state', 'last-event-id'];
  }

  get state() {
    return this.dataset.state;
  }

  set state(value) {
    this.setAttribute('state', value);
  }

  set lastEventId(value) {
    if (value === null || value === undefined) this.removeAttribute('last-event-id');
    else this.setAttribute('last-event-id', String(value));
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
    const position = this.getAttribute('last-event-id');
    if (position) {
      this.dataset.lastEventId = position;
      this.title = `Event stream: ${state}, at event ${position}`;
    } else {
      delete this.dataset.lastEventId;
      this.title = `Event stream: ${state}, no event yet`;
    }
  }
}

if (!customElements.get('connection-status')) customElements.define('connection-status', ConnectionStatus);
