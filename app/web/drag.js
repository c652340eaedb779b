// HTML5 drag-and-drop from a card to the In Progress column. Only the target column accepts a drop,
// and only of a card that may move (a To do task not already being assigned); anywhere else the
// browser shows "no drop" and nothing happens.

const TYPE = 'application/x-agent-squad-task';

export function enableDragToAssign({ board, target, canMove, onDrop }) {
  // dataTransfer's data cannot be read during dragover (only on drop), so the dragged id is kept here.
  let draggedId = null;

  board.addEventListener('dragstart', (event) => {
    const card = event.target.closest && event.target.closest('task-card');
    if (!card || !canMove(card.taskId)) {
      if (card) event.preventDefault();
      return;
    }
    draggedId = card.taskId;
    event.dataTransfer.setData(TYPE, draggedId);
    event.dataTransfer.setData('text/plain', draggedId);
    event.dataTransfer.effectAllowed = 'move';
    card.classList.add('is-dragging');
  });

  board.addEventListener('dragend', (event) => {
    const card = event.target.closest && event.target.closest('task-card');
    if (card) card.classList.remove('is-dragging');
    draggedId = null;
    delete target.dataset.dropTarget;
  });

  const accepts = () => draggedId !== null && canMove(draggedId);

  target.addEventListener('dragenter', (event) => {
    if (!accepts()) return;
    event.preventDefault();
    target.dataset.dropTarget = 'true';
  });

  target.addEventListener('dragover', (event) => {
    if (!accepts()) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'move';
    target.dataset.dropTarget = 'true';
  });

  target.addEventListener('dragleave', (event) => {
    if (!target.contains(event.relatedTarget)) delete target.dataset.dropTarget;
  });

  target.addEventListener('drop', (event) => {
    event.preventDefault();
    delete target.dataset.dropTarget;
    const taskId = event.dataTransfer.getData(TYPE) || draggedId;
    draggedId = null;
    if (taskId && canMove(taskId)) onDrop(taskId);
  });
}
