// <task-card>: one task on the board. `card.task = {...}` (the API's Task) renders it; the live parts
// (sandbox badge, pipeline progress, terminal, the agent's activity and spend) are driven by events
// through `sandboxStatus`, `setStep()`, `write()` and `agentEvent()`. A card whose task has a move a
// person may make (To do, Review, Failed: moves.js) asks to be moved by dispatching
// `task-move-request` (Enter on the focused card, or its Move… button); the board decides what
// moving means.
import './sandbox-status.js';
import './progress-bar.js';
import './terminal-output.js';
import './agent-usage.js';
import { stopReason } from './agent-activity.js';
import { MANUAL_MOVES } from '../moves.js';

const PIPELINE_STEPS = 7;
// Statuses in which the pipeline has finished, so the bar shows full.
const FINISHED = ['review', 'done'];

function part(tag, className, testid) {
  const el = document.createElement(tag);
  el.className = className;
  if (testid) el.dataset.testid = testid;
  return el;
}

export class TaskCard extends HTMLElement {
  constructor() {
    super();
    this._task = null;
    this._agentName = '';
    this._built = false;
  }

  connectedCallback() {
    this._build();
  }

  // Children are created on first use, not in the constructor: document.createElement forbids a
  // constructor from adding children or attributes.
  _build() {
    if (this._built) return;
    this._built = true;
    this.dataset.testid = 'task-card';
    this.setAttribute('role', 'article');
    this.tabIndex = 0;

    this._title = part('h3', 'task-card__title', 'task-title');
    const meta = part('p', 'task-card__meta');
    this._agent = part('span', 'task-card__agent', 'agent-name');
    this._sandbox = /** @type {import('./sandbox-status.js').SandboxStatus} */ (
      document.createElement('sandbox-status')
    );
    meta.append(this._agent, this._sandbox);
    this._progress = document.createElement('progress-bar');
    this._progress.setAttribute('max', String(PIPELINE_STEPS));
    this._progress.setAttribute('value', '0');
    this._usage = /** @type {import('./agent-usage.js').AgentUsage} */ (document.createElement('agent-usage'));
    this._usage.dataset.testid = 'agent-usage';
    this._stopped = part('p', 'task-card__stopped', 'agent-stop-reason');
    this._stopped.hidden = true;
    this._error = part('p', 'task-card__error', 'task-error');
    this._error.hidden = true;
    this._prLink = part('a', 'task-card__pr', 'pr-link');
    this._prLink.hidden = true;
    this._prLink.target = '_blank';
    this._prLink.rel = 'noopener noreferrer';
    this._activity = /** @type {import('./agent-activity.js').AgentActivity} */ (
      document.createElement('agent-activity')
    );
    this._terminal = /** @type {import('./terminal-output.js').TerminalOutput} */ (
      document.createElement('terminal-output')
    );
    this._move = part('button', 'task-card__move', 'move-button');
    this._move.type = 'button';
    this._move.textContent = 'Move…';
    this._move.addEventListener('click', () => this._requestMove());
    this.addEventListener('keydown', (event) => {
      // Only Enter on the card itself: Enter on its link or button keeps its own meaning.
      if (event.key === 'Enter' && event.target === this) {
        event.preventDefault();
        this._requestMove();
      }
    });

    this.append(
      this._title,
      meta,
      this._progress,
      this._usage,
      this._stopped,
      this._error,
      this._prLink,
      this._activity,
      this._terminal,
      this._move,
    );
    if (this._task) this.render();
  }

  get taskId() {
    return this._task ? this._task.id : null;
  }

  get task() {
    return this._task;
  }

  set task(task) {
    this._task = { ...task };
    this._build();
    this.render();
  }

  set agentName(name) {
    this._agentName = name || '';
    if (this._built && this._task) this.render();
  }

  get sandboxStatus() {
    return this._sandbox ? this._sandbox.status : null;
  }

  set sandboxStatus(status) {
    this._build();
    this._sandbox.status = status;
  }

  /** A pipeline.step event: step `index` (1-based) of `total` has started. */
  setStep({ step, index, total }) {
    this._build();
    this._progress.setAttribute('max', String(total || PIPELINE_STEPS));
    this._progress.setAttribute('value', String(index));
    this._progress.setAttribute('valuetext', `Step ${index} of ${total || PIPELINE_STEPS}: ${step}`);
  }

  /** A reopened task: its next run starts from an empty badge, bar, terminal and activity (what the
   * task spent stays: it is the task's, all runs together). */
  resetRun() {
    this._build();
    this._sandbox.status = null;
    this._progress.setAttribute('value', '0');
    this._progress.removeAttribute('valuetext');
    this._terminal.clear();
    this._activity.clear();
    this._stopped.hidden = true;
    this._stopped.textContent = '';
  }

  /** An agent.* event of the stream (docs/events.md): its type and data. */
  agentEvent(type, data) {
    this._build();
    if (type === 'agent.usage') {
      this._usage.record(data);
      return;
    }
    if (type === 'agent.stopped') {
      this._stopped.textContent = `Agent stopped: ${stopReason(data && data.reason)}`;
      this._stopped.hidden = false;
    }
    this._activity.apply(type, data);
  }

  write(text, stream) {
    this._build();
    this._terminal.write(text, stream);
  }

  set busy(value) {
    this._build();
    if (value) this.setAttribute('aria-busy', 'true');
    else this.removeAttribute('aria-busy');
    this._move.disabled = Boolean(value);
  }

  get movable() {
    return Boolean(this._task) && Boolean(MANUAL_MOVES[this._task.status]);
  }

  _requestMove() {
    if (!this.movable) return;
    this.dispatchEvent(new CustomEvent('task-move-request', { bubbles: true, detail: { taskId: this.taskId } }));
  }

  render() {
    const task = this._task;
    const title = task.title || '(untitled)';
    this.dataset.taskId = task.id;
    this.dataset.status = task.status;
    this.draggable = this.movable;
    this.setAttribute('aria-roledescription', 'task card');

    const titleId = `task-${task.id}-title`;
    this._title.id = titleId;
    this._title.textContent = title;
    this.setAttribute('aria-labelledby', titleId);

    this._agent.textContent = task.agent_id ? this._agentName || 'Assigned agent' : 'Unassigned';
    this._progress.setAttribute('label', `Pipeline progress: ${title}`);
    if (FINISHED.includes(task.status)) {
      this._progress.setAttribute('value', this._progress.getAttribute('max'));
      this._progress.setAttribute('valuetext', 'Pipeline finished');
    }
    this._terminal.setAttribute('aria-label', `Terminal output: ${title}`);
    this._activity.label = title;
    this._usage.showTask(task);
    this._move.setAttribute('aria-label', `Move task: ${title}`);
    this._move.hidden = !this.movable;

    this._error.hidden = !task.error;
    this._error.textContent = task.error || '';

    if (task.pr_url) {
      this._prLink.href = task.pr_url;
      this._prLink.textContent = task.pr_number ? `Pull request #${task.pr_number}` : 'Pull request';
      this._prLink.setAttribute('aria-label', `${this._prLink.textContent}: ${title}`);
      this._prLink.hidden = false;
    } else {
      this._prLink.hidden = true;
      this._prLink.removeAttribute('href');
    }
  }
}

if (!customElements.get('task-card')) customElements.define('task-card', TaskCard);
