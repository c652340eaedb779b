// <assign-dialog>: the move/assign control. `choose({task, agents})` opens a modal dialog asking which
// agent takes the task into In Progress, and resolves with the chosen agent's id, or null when the
// user cancels (Cancel button or Escape). Used by drag-and-drop when the squad has several agents and
// by the keyboard path always. `confirmMove({task, to})` asks the same dialog, without the agent
// choice, whether to move the task to the column named `to` (Review -> Done, Failed -> To do), and
// resolves true, or false when the user cancels.

let counter = 0;

export class AssignDialog extends HTMLElement {
  constructor() {
    super();
    this._resolve = null;
    this._built = false;
    this._mode = 'assign'; // or 'confirm'
  }

  connectedCallback() {
    this._build();
  }

  _build() {
    if (this._built) return;
    this._built = true;
    const id = `assign-dialog-${++counter}`;

    this._dialog = document.createElement('dialog');
    this._dialog.className = 'assign-dialog';
    this._dialog.dataset.testid = 'assign-dialog';
    this._dialog.setAttribute('aria-labelledby', `${id}-heading`);
    this._dialog.setAttribute('aria-describedby', `${id}-text`);

    const form = document.createElement('form');
    form.method = 'dialog';
    const heading = document.createElement('h2');
    heading.id = `${id}-heading`;
    heading.textContent = 'Move to In Progress';
    this._heading = heading;
    this._text = document.createElement('p');
    this._text.id = `${id}-text`;

    const label = document.createElement('label');
    this._label = label;
    label.htmlFor = `${id}-agent`;
    label.textContent = 'Agent';
    this._select = document.createElement('select');
    this._select.id = `${id}-agent`;
    this._select.name = 'agent_id';
    this._select.dataset.testid = 'assign-agent';
    this._select.required = true;
    // A select does not submit its form on Enter; in this one-question dialog Enter means "Assign".
    this._select.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !this._confirm.disabled) {
        event.preventDefault();
        form.requestSubmit(this._confirm);
      }
    });

    const actions = document.createElement('div');
    actions.className = 'assign-dialog__actions';
    this._confirm = document.createElement('button');
    this._confirm.type = 'submit';
    this._confirm.value = 'assign';
    this._confirm.dataset.testid = 'assign-confirm';
    this._confirm.textContent = 'Assign';
    const cancel = document.createElement('button');
    cancel.type = 'button';
    cancel.dataset.testid = 'assign-cancel';
    cancel.textContent = 'Cancel';
    cancel.addEventListener('click', () => this._dialog.close('cancel'));
    actions.append(this._confirm, cancel);

    form.append(heading, this._text, label, this._select, actions);
    this._dialog.append(form);
    // `close` fires for the submit button, Cancel and Escape alike: one place settles the promise.
    this._dialog.addEventListener('close', () => {
      // A close queued before the dialog was opened again belongs to the previous question.
      if (this._dialog.open) return;
      const confirmed = this._dialog.returnValue === 'assign';
      const chosen = this._mode === 'confirm' ? confirmed : (confirmed && this._select.value) || null;
      const resolve = this._resolve;
      this._resolve = null;
      if (resolve) resolve(chosen);
    });
    this.append(this._dialog);
  }

  get open() {
    return Boolean(this._dialog && this._dialog.open);
  }

  _replaceQuestion(mode) {
    this._build();
    if (this._resolve) {
      // A new question replaces an unanswered one, which counts as cancelled.
      this._resolve(this._mode === 'confirm' ? false : null);
      this._resolve = null;
      this._dialog.close('cancel');
    }
    this._mode = mode;
    const assigning = mode === 'assign';
    this._label.hidden = !assigning;
    this._select.hidden = !assigning;
    this._select.required = assigning;
  }

  choose({ task, agents }) {
    this._replaceQuestion('assign');
    this._heading.textContent = 'Move to In Progress';
    this._confirm.textContent = 'Assign';
    this._text.textContent = `Assign “${task.title}” to an agent; its work starts at once.`;
    this._select.replaceChildren(
      ...agents.map((agent) => {
        const option = document.createElement('option');
        option.value = agent.id;
        option.textContent = agent.name;
        return option;
      }),
    );
    this._confirm.disabled = agents.length === 0;
    this._dialog.returnValue = '';
    return new Promise((resolve) => {
      this._resolve = resolve;
      this._dialog.showModal();
      this._select.focus();
    });
  }

  confirmMove({ task, to }) {
    this._replaceQuestion('confirm');
    this._heading.textContent = `Move to ${to}`;
    this._confirm.textContent = 'Move';
    this._confirm.disabled = false;
    this._text.textContent = `Move “${task.title}” to ${to}?`;
    this._dialog.returnValue = '';
    return new Promise((resolve) => {
      this._resolve = resolve;
      this._dialog.showModal();
      this._confirm.focus();
    });
  }
}

if (!customElements.get('assign-dialog')) customElements.define('assign-dialog', AssignDialog);
