// HTML5 drag-and-drop of task cards between the board's columns. A card may be dragged when
// `canDrag` says so (its task has a move a person may make, and no request for it is in flight).
// Every other column accepts the drop, and the board decides what it means (`onDrop`): a legal move
// calls the API, any other is refused with a message, so a drop is never silently lost. Dropping a
// card on its own column does nothing ("no drop" cursor).

const TYPE = 'application/x-agent-squad-task';

export function enableDragToMove({ board, columns, canDrag, isLegal, onDrop }) {
  // dataTransfer's data cannot be read during dragover (only on drop), so the dragged card is kept here.
  let dragged = null; // {taskId, from}

  const clearTargets = () => {
    for (const column of columns.values()) delete column.dataset.dropTarget;
  };

  board.addEventListener('dragstart', (event) => {
    const card = event.target.closest && event.target.closest('task-card');
    if (!card) return;
    if (!canDrag(card.taskId)) {
      event.preventDefault();
      return;
    }
    dragged = { taskId: card.taskId, from: card.closest('[data-column]')?.dataset.column ?? null };
    event.dataTransfer.setData(TYPE, card.taskId);
    event.dataTransfer.setData('text/plain', card.taskId);
    event.dataTransfer.effectAllowed = 'move';
    card.classList.add('is-dragging');
  });

  board.addEventListener('dragend', (event) => {
    const card = event.target.closest && event.target.closest('task-card');
    if (card) card.classList.remove('is-dragging');
    dragged = null;
    clearTargets();
  });

  for (const [status, column] of columns) {
    const accepts = () => dragged !== null && dragged.from !== status && canDrag(dragged.taskId);
    // "allowed" or "refused": the column shows before the drop whether the move would be taken.
    const mark = () => {
      column.dataset.dropTarget = isLegal(dragged.taskId, status) ? 'allowed' : 'refused';
    };

    column.addEventListener('dragenter', (event) => {
      if (!accepts()) return;
      event.preventDefault();
      mark();
    });

    column.addEventListener('dragover', (event) => {
      if (!accepts()) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'move';
      mark();
    });

    column.addEventListener('dragleave', (event) => {
      if (!column.contains(event.relatedTarget)) delete column.dataset.dropTarget;
    });

    column.addEventListener('drop', (event) => {
      event.preventDefault();
      clearTargets();
      const taskId = event.dataTransfer.getData(TYPE) || (dragged && dragged.taskId);
      dragged = null;
      if (taskId) onDrop(taskId, status);
    });
  }
}
