/**
 * Undo and redo. Before every edit the editor calls `record()`, which keeps a
 * snapshot of the whole workspace; undo and redo swap snapshots. Deploying does not
 * clear the history (as in Node-RED).
 */
const LIMIT = 200;

export class History {
  constructor(model) {
    this.model = model;
    this.undoStack = [];
    this.redoStack = [];
  }

  /** Remember the workspace as it is now (or as `snapshot` says it was), before a change. */
  record(snapshot = this.model.snapshot()) {
    this.undoStack.push(snapshot);
    if (this.undoStack.length > LIMIT) this.undoStack.shift();
    this.redoStack = [];
  }

  undo() {
    if (!this.undoStack.length) return false;
    this.redoStack.push(this.model.snapshot());
    this.model.restore(this.undoStack.pop());
    return true;
  }

  redo() {
    if (!this.redoStack.length) return false;
    this.undoStack.push(this.model.snapshot());
    this.model.restore(this.redoStack.pop());
    return true;
  }
}
