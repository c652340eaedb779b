// <toast-region>: where the board tells the user something happened. `error(message, title)` shows an
// error with its reason (role=alert: announced at once); `notify({title, message, link})` shows a
// success notification (role=status), optionally with a link. Every toast stays until dismissed, so
// nobody (and no test) races a timer to read it. Text goes in through textContent only.

export class ToastRegion extends HTMLElement {
  connectedCallback() {
    // A labelled region is a landmark: the toasts sit in one named place on the page.
    this.setAttribute('role', 'region');
    if (!this.hasAttribute('aria-label')) this.setAttribute('aria-label', 'Notifications');
  }

  error(message, title = 'Error') {
    return this.show({ kind: 'error', title, message });
  }

  /** @param {{ title: string, message: string, link?: { href: string, text: string } | null }} notification */
  notify({ title, message, link = null }) {
    return this.show({ kind: 'success', title, message, link });
  }

  show({ kind = 'info', title = '', message = '', link = null }) {
    const toast = document.createElement('div');
    toast.className = 'toast';
    toast.dataset.testid = 'toast';
    toast.dataset.kind = kind;
    toast.setAttribute('role', kind === 'error' ? 'alert' : 'status');

    const body = document.createElement('div');
    body.className = 'toast__body';
    if (title) {
      const heading = document.createElement('strong');
      heading.className = 'toast__title';
      heading.textContent = title;
      body.append(heading);
    }
    const text = document.createElement('p');
    text.className = 'toast__message';
    text.dataset.testid = 'toast-message';
    text.textContent = message;
    body.append(text);
    if (link && link.href) {
      const anchor = document.createElement('a');
      anchor.className = 'toast__link';
      anchor.dataset.testid = 'toast-link';
      anchor.href = link.href;
      anchor.target = '_blank';
      anchor.rel = 'noopener noreferrer';
      anchor.textContent = link.text || link.href;
      body.append(anchor);
    }

    const dismiss = document.createElement('button');
    dismiss.type = 'button';
    dismiss.className = 'toast__dismiss';
    dismiss.dataset.testid = 'toast-dismiss';
    dismiss.setAttribute('aria-label', `Dismiss: ${title || message}`);
    dismiss.textContent = '×';
    dismiss.addEventListener('click', () => toast.remove());

    toast.append(body, dismiss);
    this.append(toast);
    return toast;
  }
}

if (!customElements.get('toast-region')) customElements.define('toast-region', ToastRegion);
