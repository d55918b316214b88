/**
 * A box floating over the editor (search, quick-add, context menu): one at a time,
 * closed by escape, by a press outside it, by the window losing focus or resizing.
 */
let current = null;

/** Close the open popup, if any. */
export function closePopup() {
  if (!current) return;
  const { element, cleanup } = current;
  current = null;
  cleanup();
  element.remove();
}

/** True while a popup is open. */
export function popupOpen() {
  return current !== null;
}

/**
 * Show `element` (absolutely positioned by the caller) and keep it on screen; `onClose`
 * runs once when it closes for any reason. Returns the close function.
 */
export function openPopup(element, { onClose = null } = {}) {
  closePopup();
  const outside = (e) => { if (!element.contains(e.target)) closePopup(); };
  const escape = (e) => {
    if (e.key !== "Escape") return;
    e.preventDefault();
    e.stopPropagation();
    closePopup();
  };
  const close = () => closePopup();
  // Capture phase: the press that closes the popup may go on to start something else (a
  // new quick-add, a lasso), and escape must not also clear the canvas selection.
  document.addEventListener("pointerdown", outside, true);
  window.addEventListener("keydown", escape, true);
  window.addEventListener("blur", close);
  window.addEventListener("resize", close);
  current = {
    element,
    cleanup: () => {
      document.removeEventListener("pointerdown", outside, true);
      window.removeEventListener("keydown", escape, true);
      window.removeEventListener("blur", close);
      window.removeEventListener("resize", close);
      onClose?.();
    },
  };
  document.body.append(element);
  keepOnScreen(element);
  return close;
}

function keepOnScreen(element) {
  const rect = element.getBoundingClientRect();
  const left = Math.max(4, Math.min(rect.left, window.innerWidth - rect.width - 4));
  const top = Math.max(4, Math.min(rect.top, window.innerHeight - rect.height - 4));
  element.style.left = `${left}px`;
  element.style.top = `${top}px`;
}

/**
 * Arrow-key navigation over `items` (elements) of a list: returns a keydown handler
 * that moves the `active` class and calls `choose(index)` on enter.
 */
export function listKeys(getItems, choose) {
  let active = 0;
  const mark = () => {
    const items = getItems();
    items.forEach((el, i) => el.classList.toggle("active", i === active));
    items[active]?.scrollIntoView({ block: "nearest" });
  };
  const handler = (e) => {
    const count = getItems().length;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (!count) return;
      active = (active + (e.key === "ArrowDown" ? 1 : count - 1)) % count;
      mark();
    } else if (e.key === "Enter") {
      e.preventDefault();
      if (count) choose(Math.min(active, count - 1));
    }
  };
  handler.reset = () => {
    active = 0;
    mark();
  };
  return handler;
}
