// <progress-bar value="3" max="7" label="Pipeline progress">: an accessible progress bar.
// The host element carries role=progressbar and the aria-value* attributes; the fill width is a CSS
// custom property so the stylesheet can animate it (and drop the animation for reduced motion).

const DEFAULT_MAX = 100;

export class ProgressBar extends HTMLElement {
  static get observedAttributes() {
    return ['value', 'max', 'label', 'valuetext'];
  }

  get value() {
    return this._numbers().value;
  }

  set value(v) {
    this.setAttribute('value', String(v));
  }

  get max() {
    return this._numbers().max;
  }

  set max(v) {
    this.setAttribute('max', String(v));
  }

  connectedCallback() {
    this.setAttribute('role', 'progressbar');
    if (!this.querySelector(':scope > .progress-bar__fill')) {
      const fill = document.createElement('span');
      fill.className = 'progress-bar__fill';
      this.append(fill);
    }
    this.render();
  }

  attributeChangedCallback() {
    if (this.isConnected) this.render();
  }

  // Out-of-range or missing values are clamped rather than rejected: a late or duplicated event must
  // never break the bar.
  _numbers() {
    let max = Number.parseFloat(this.getAttribute('max'));
    if (!Number.isFinite(max) || max <= 0) max = DEFAULT_MAX;
    let value = Number.parseFloat(this.getAttribute('value'));
    if (!Number.isFinite(value) || value < 0) value = 0;
    return { value: Math.min(value, max), max };
  }

  render() {
    const { value, max } = this._numbers();
    this.setAttribute('aria-valuemin', '0');
    this.setAttribute('aria-valuemax', String(max));
    this.setAttribute('aria-valuenow', String(value));
    this.setAttribute('aria-valuetext', this.getAttribute('valuetext') || `${value} of ${max}`);
    const label = this.getAttribute('label');
    if (label) this.setAttribute('aria-label', label);
    else if (!this.hasAttribute('aria-label') && !this.hasAttribute('aria-labelledby')) {
      this.setAttribute('aria-label', 'Progress');
    }
    this.style.setProperty('--progress', `${(value / max) * 100}%`);
  }
}

if (!customElements.get('progress-bar')) customElements.define('progress-bar', ProgressBar);
