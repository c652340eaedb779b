// The moves a person may make on the board, by drag-and-drop or from the keyboard. They mirror the
// API: a To do task is assigned (POST /tasks/{id}/assign, into In Progress); a task in Review is
// accepted into Done and a Failed one reopened into To do (PATCH /tasks/{id} with its new status).
// Every other move is the pipeline's to make, so the board refuses it with a word of why.

export const COLUMN_NAMES = Object.freeze({
  todo: 'To do',
  in_progress: 'In Progress',
  review: 'Review',
  done: 'Done',
  failed: 'Failed',
});

// From a status to the one column a person may move its task to.
export const MANUAL_MOVES = Object.freeze({ todo: 'in_progress', review: 'done', failed: 'todo' });

export const nameOf = (status) => COLUMN_NAMES[status] || status;

export function isManualMove(from, to) {
  return MANUAL_MOVES[from] === to;
}

/** Why `from` -> `to` is not a move a person may make (for the message the board shows). */
export function refusalReason(from, to) {
  const allowed = MANUAL_MOVES[from];
  const rule = allowed
    ? `a task in ${nameOf(from)} can only move to ${nameOf(allowed)}`
    : `a task in ${nameOf(from)} is moved by its pipeline, not by hand`;
  return `it cannot move from ${nameOf(from)} to ${nameOf(to)}: ${rule}`;
}
