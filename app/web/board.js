// The board: loads the squad, its agents and tasks, then keeps every card current from the event
// stream (no reload, no polling). Cards move by drag-and-drop or from the keyboard (Enter on a card,
// or its Move… button): a To do card into In Progress assigns it to an agent, a Review card into Done
// accepts it, a Failed card back into To do reopens it (moves.js); any other move is refused with a
// message and the card stays where it is.
import './components/connection-status.js';
import './components/toast-region.js';
import './components/task-card.js';
import './components/assign-dialog.js';
import { ApiError, createApi } from './api.js';
import { forgetSession, takeSession } from './session.js';
import { openStream } from './stream.js';
import { enableDragToMove } from './drag.js';
import { MANUAL_MOVES, isManualMove, nameOf, refusalReason } from './moves.js';

// The page's elements, typed (JSDoc, checked by `make lint-js`) as the components they are.
const main = document.querySelector('main');
/** @type {import('./components/toast-region.js').ToastRegion} */
const toasts = document.querySelector('toast-region');
/** @type {import('./components/connection-status.js').ConnectionStatus} */
const connection = document.querySelector('[data-testid="connection"]');
/** @type {import('./components/assign-dialog.js').AssignDialog} */
const dialog = document.querySelector('assign-dialog');
const columns = new Map(
  Array.from(document.querySelectorAll('[data-column]'), (/** @type {HTMLElement} */ section) => [
    section.dataset.column,
    section,
  ]),
);

const tasks = new Map(); // id -> Task as the API returns it, kept current by events
const cards = new Map(); // id -> <task-card>
const agents = new Map(); // id -> Agent
const moving = new Set(); // task ids with a move (assign or status change) in flight
let api = null;
let lastAppliedEventId = 0;
// Events are applied one after another, after the initial snapshot, even when one has to fetch.
let applying = Promise.resolve();

function showMessage(text) {
  /** @type {HTMLElement} */
  const message = document.querySelector('[data-testid="board-message"]');
  message.textContent = text;
  message.hidden = false;
}

function reasonOf(error) {
  return error instanceof ApiError ? error.message : String(error && error.message ? error.message : error);
}

// ---- rendering --------------------------------------------------------------------------------------

function updateCounts() {
  for (const section of columns.values()) {
    const count = section.querySelectorAll('task-card').length;
    section.querySelector('[data-testid="column-count"]').textContent = String(count);
    section.querySelector('.column__count-unit').textContent = count === 1 ? ' task' : ' tasks';
  }
}

function renderTask(task) {
  tasks.set(task.id, task);
  let card = cards.get(task.id);
  if (!card) {
    card = document.createElement('task-card');
    cards.set(task.id, card);
  }
  card.agentName = task.agent_id && agents.has(task.agent_id) ? agents.get(task.agent_id).name : '';
  card.task = task;
  const list = (columns.get(task.status) || columns.get('todo')).querySelector('.column__cards');
  if (card.parentElement !== list) {
    list.append(card);
    updateCounts();
  }
  if (task.agent_id && !agents.has(task.agent_id)) refreshAgents();
  return card;
}

function updateTask(taskId, patch) {
  const task = tasks.get(taskId);
  return task ? renderTask({ ...task, ...patch }) : null;
}

let refreshingAgents = null;
function refreshAgents() {
  // An agent created after the board loaded: fetch the list once, then re-render its cards.
  refreshingAgents ??= api
    .agents()
    .then((list) => {
      for (const agent of list) agents.set(agent.id, agent);
      for (const task of tasks.values()) renderTask(task);
    })
    .catch((error) => console.warn('could not refresh agents', error))
    .finally(() => {
      refreshingAgents = null;
    });
}

// ---- events -----------------------------------------------------------------------------------------

// The stream starts at the squad's first event, so the board replays each task's history (badge,
// progress, terminal) before its news. Replayed history moves a card through the states it went
// through and ends where the snapshot already was; what it must not do is announce old news again. An
// outcome is old news when the snapshot read at load time already showed it, or when it happened
// before the snapshot's last change of the task.
const baseline = new Map(); // task id -> {status, pr_url, error, updatedAt} as the snapshot showed it

function alreadyKnown(event, outcome) {
  const known = baseline.get(event.task_id);
  if (!known) return false; // a task the board learnt of after loading: all of it is news
  if (Date.parse(event.created_at) < known.updatedAt) return true;
  return Object.entries(outcome).every(([key, value]) => (known[key] ?? null) === (value ?? null));
}

// News before the snapshot was read: the snapshot already shows where it led.
function happenedBeforeSnapshot(event) {
  const known = baseline.get(event.task_id);
  return Boolean(known) && Date.parse(event.created_at) < known.updatedAt;
}

const handlers = {
  'task.created': () => {},
  'task.assigned': (event) => updateTask(event.task_id, { agent_id: event.data.agent_id, status: 'in_progress' }),
  'sandbox.status': (event, card) => {
    card.sandboxStatus = event.data.status;
  },
  'pipeline.step': (event, card) => card.setStep(event.data),
  'terminal.output': (event, card) => card.write(event.data.text, event.data.stream),
  'pull_request.opened': (event) => {
    const { url, number } = event.data;
    const card = updateTask(event.task_id, { pr_url: url, pr_number: number });
    if (alreadyKnown(event, { pr_url: url })) return;
    toasts.notify({
      title: 'Pull request opened',
      message: `“${card.task.title}” is ready for review.`,
      link: { href: url, text: `Open pull request #${number}` },
    });
  },
  'review.changes_requested': (event, card) => {
    if (happenedBeforeSnapshot(event)) return;
    const { reviewer, round } = event.data;
    const when = round ? `: review round ${round} starts` : ': the agent takes it up when its run ends';
    toasts.notify({ title: 'Changes requested', message: `${reviewer} asked for changes on “${card.task.title}”${when}.` });
  },
  'pull_request.merged': (event, card) => {
    if (alreadyKnown(event, { status: 'done' })) return;
    const { url, number, merged_by: mergedBy } = event.data;
    toasts.notify({
      title: 'Pull request merged',
      message: `${mergedBy} merged “${card.task.title}”.`,
      link: { href: url, text: `Open pull request #${number}` },
    });
  },
  'task.status': (event) => {
    const { status, pr_url: prUrl, error } = event.data;
    const task = tasks.get(event.task_id);
    const backToWork = task.status === 'review' && status === 'in_progress';
    const patch = { status, pr_url: prUrl ?? task.pr_url, error: error ?? null };
    // Reopened (failed -> todo): nobody works on it any more, and it may be assigned again.
    if (status === 'todo') patch.agent_id = null;
    const card = updateTask(event.task_id, patch);
    // A review asked for changes: the review round starts from an empty badge, bar and terminal.
    if (backToWork) card.resetRun();
    if (status === 'todo') {
      card.resetRun();
      // A reopening the board had not seen yet starts a new run: its outcome is news, even when it
      // fails again for the same reason.
      const known = baseline.get(event.task_id);
      if (known && Date.parse(event.created_at) >= known.updatedAt) {
        baseline.set(event.task_id, { status, pr_url: null, error: null, updatedAt: Date.parse(event.created_at) });
      }
    }
    if (status === 'failed' && !alreadyKnown(event, { status, error: error ?? null })) {
      toasts.error(`“${card.task.title}” failed: ${error || 'no reason given'}`, 'Task failed');
    }
  },
};

// The agent's work, live on its card (messages as they stream, tool calls and results, spend, a stop).
const AGENT_EVENTS = ['agent.message', 'agent.tool_call', 'agent.tool_result', 'agent.usage', 'agent.finished', 'agent.stopped'];
for (const type of AGENT_EVENTS) handlers[type] = (event, card) => card.agentEvent(event.type, event.data);

async function applyEvent(event) {
  // A replayed or duplicated event (ids only grow) changes nothing twice.
  if (typeof event.id === 'number') {
    if (event.id <= lastAppliedEventId) return;
    lastAppliedEventId = event.id;
    connection.lastEventId = event.id;
  }
  const handler = handlers[event.type];
  if (!handler || !event.task_id) return;
  if (!tasks.has(event.task_id)) {
    // Created elsewhere after the board loaded: fetch it whole rather than guess its fields.
    try {
      renderTask(await api.task(event.task_id));
    } catch (error) {
      console.warn(`event ${event.id} for a task the board cannot load`, error);
      return;
    }
  }
  handler(event, cards.get(event.task_id));
}

// ---- moving -----------------------------------------------------------------------------------------

function refuseMove(task, to) {
  toasts.error(`“${task.title}” stays in ${nameOf(task.status)}: ${refusalReason(task.status, to)}.`, 'Move refused');
}

// A move asked for by a drop on column `to`, or from the keyboard (`to` is then the card's one legal
// destination, and the dialog confirms it first).
async function moveTask(taskId, to, { dropped }) {
  const task = tasks.get(taskId);
  if (!task || moving.has(taskId) || task.status === to) return;
  if (!isManualMove(task.status, to)) {
    refuseMove(task, to);
    return;
  }
  if (to === 'in_progress') {
    await moveToInProgress(taskId, { dropped });
    return;
  }
  if (!dropped && !(await dialog.confirmMove({ task, to: nameOf(to) }))) return;
  // The task may have changed (or started moving) while the dialog was open.
  if (moving.has(taskId) || tasks.get(taskId).status !== task.status) return;

  moving.add(taskId);
  const card = cards.get(taskId);
  card.busy = true;
  try {
    const moved = await api.setStatus(taskId, to);
    // The stream may have delivered this very change (or a later one) first: then it is older news.
    if (tasks.get(taskId).status === task.status) {
      renderTask(moved);
      if (to === 'todo') card.resetRun();
    }
  } catch (error) {
    toasts.error(`Could not move “${task.title}” to ${nameOf(to)}: ${reasonOf(error)}`, 'Move failed');
  } finally {
    moving.delete(taskId);
    card.busy = false;
    if (document.activeElement === document.body) card.focus();
  }
}

async function moveToInProgress(taskId, { dropped }) {
  const task = tasks.get(taskId);
  if (!task || task.status !== 'todo' || moving.has(taskId)) return;
  const squadAgents = Array.from(agents.values());
  if (squadAgents.length === 0) {
    toasts.error('This squad has no agents yet: create one, then assign the task.', 'Cannot assign');
    return;
  }
  // A drop with one agent needs no question; the keyboard path always confirms in the dialog.
  const agentId =
    dropped && squadAgents.length === 1 ? squadAgents[0].id : await dialog.choose({ task, agents: squadAgents });
  if (!agentId || moving.has(taskId)) return;

  moving.add(taskId);
  const card = cards.get(taskId);
  card.busy = true;
  try {
    const assigned = await api.assign(taskId, agentId);
    // The stream can deliver the task's next events before this response (a pipeline that fails at
    // once, say): the response is older news then, and must not move the card back.
    if (tasks.get(taskId).status === 'todo') renderTask(assigned);
  } catch (error) {
    toasts.error(`Could not assign “${task.title}”: ${reasonOf(error)}`, 'Assignment failed');
  } finally {
    moving.delete(taskId);
    card.busy = false;
    if (document.activeElement === document.body) card.focus();
  }
}

// ---- start ------------------------------------------------------------------------------------------

async function start() {
  const session = takeSession();
  if (!session) {
    main.dataset.state = 'signed-out';
    showMessage('Open the board with its link: /#squad=<squad id>&token=<squad token>.');
    return;
  }
  api = createApi(session.token);
  try {
    await api.startSession();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) forgetSession();
    main.dataset.state = 'error';
    showMessage(`The board could not sign in: ${reasonOf(error)}`);
    toasts.error(reasonOf(error), 'Sign-in failed');
    return;
  }

  // The stream opens before the snapshot is read, so nothing that happens in between is missed; its
  // events wait in `applying` until the snapshot is on screen.
  /** @type {() => void} */
  let snapshotDone;
  applying = new Promise((resolve) => {
    snapshotDone = resolve;
  });
  openStream({
    onEvent: (event) => {
      applying = applying.then(() => applyEvent(event)).catch((error) => console.error(error));
    },
    onState: (state) => {
      connection.state = state;
    },
    renewSession: () => api.startSession(),
  });

  try {
    const [squad, agentList, taskList] = await Promise.all([api.squad(), api.agents(), api.tasks()]);
    document.querySelector('[data-testid="squad-name"]').textContent = `${squad.name} · ${squad.repository}`;
    if (session.squadId && session.squadId !== squad.id) {
      // The token decides whose board this is; a link naming another squad is worth a word.
      showMessage(`This link names squad ${session.squadId}, but its token belongs to “${squad.name}”.`);
    }
    document.title = `${squad.name} · Agent Squad`;
    for (const agent of agentList) agents.set(agent.id, agent);
    for (const task of taskList) {
      baseline.set(task.id, {
        status: task.status,
        pr_url: task.pr_url,
        error: task.error,
        updatedAt: Date.parse(task.updated_at),
      });
      renderTask(task);
    }
    main.dataset.state = 'ready';
  } catch (error) {
    main.dataset.state = 'error';
    showMessage(`The board could not load: ${reasonOf(error)}`);
    toasts.error(reasonOf(error), 'Loading failed');
  } finally {
    snapshotDone();
  }
}

enableDragToMove({
  board: main,
  columns,
  canDrag: (taskId) => Boolean(MANUAL_MOVES[tasks.get(taskId)?.status]) && !moving.has(taskId),
  isLegal: (taskId, to) => isManualMove(tasks.get(taskId)?.status, to),
  onDrop: (taskId, to) => moveTask(taskId, to, { dropped: true }),
});
main.addEventListener('task-move-request', (/** @type {CustomEvent} */ event) => {
  const { taskId } = event.detail;
  const to = MANUAL_MOVES[tasks.get(taskId)?.status];
  if (to) moveTask(taskId, to, { dropped: false });
});

start();
