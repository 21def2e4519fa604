// One box per PIN character. Typing moves to the next box, Backspace goes back,
// the arrows move, and a paste or an autofill (autocomplete="one-time-code" on the
// first box, which may receive the whole code at once) is spread over the boxes.

const ALPHABETS = {
  numbers: /[0-9]/,
  letters: /[A-Z]/,
  alphanumeric: /[A-Z0-9]/,
};

const NAMES = { numbers: "Digit", letters: "Letter", alphanumeric: "Character" };

export class PinInput {
  #root;
  #boxes = [];
  #type = "numbers";
  #onComplete;
  #onChange;

  /**
   * @param {HTMLElement} root the (empty) group element
   * @param {{ onComplete?: (pin: string) => void, onChange?: (pin: string, complete: boolean) => void }} callbacks
   */
  constructor(root, { onComplete, onChange } = {}) {
    this.#root = root;
    this.#onComplete = onComplete ?? (() => {});
    this.#onChange = onChange ?? (() => {});
    this.configure({ length: 6, type: "numbers" });
  }

  /** Rebuilds the boxes for a PIN of `length` symbols of `type`. */
  configure({ length, type }) {
    this.#type = ALPHABETS[type] ? type : "numbers";
    this.#root.replaceChildren();
    this.#boxes = [];
    for (let i = 0; i < length; i++) {
      const box = document.createElement("input");
      box.className = "pin-box";
      box.type = "text";
      box.inputMode = this.#type === "numbers" ? "numeric" : "text";
      box.autocomplete = i === 0 ? "one-time-code" : "off";
      box.setAttribute("autocapitalize", "characters");
      box.spellcheck = false;
      box.enterKeyHint = i === length - 1 ? "done" : "next";
      box.setAttribute("aria-label", `${NAMES[this.#type]} ${i + 1} of ${length}`);
      box.dataset.index = String(i);
      box.addEventListener("input", () => this.#onInput(i));
      box.addEventListener("keydown", (e) => this.#onKeyDown(e, i));
      box.addEventListener("paste", (e) => this.#onPaste(e, i));
      box.addEventListener("focus", () => box.select());
      this.#root.append(box);
      this.#boxes.push(box);
    }
    this.#root.style.setProperty("--pin-length", String(length));
  }

  /** The symbols typed so far, in order (may be shorter than the PIN). */
  get value() {
    return this.#boxes.map((b) => b.value).join("");
  }

  get complete() {
    return this.#boxes.every((b) => b.value.length === 1);
  }

  /** Keeps only the symbols of the PIN's alphabet, uppercased. */
  sanitize(text) {
    const re = ALPHABETS[this.#type];
    return [...String(text).toUpperCase()].filter((c) => re.test(c)).join("");
  }

  clear() {
    for (const b of this.#boxes) b.value = "";
    this.#changed(false);
  }

  /** Focuses the first empty box (or the last one). */
  focus() {
    const box = this.#boxes.find((b) => !b.value) ?? this.#boxes.at(-1);
    box?.focus();
  }

  /** Spreads `text` over the boxes from the first one, as a paste would. */
  fill(text) {
    this.#spread(this.sanitize(text), 0);
  }

  set disabled(disabled) {
    for (const b of this.#boxes) b.disabled = disabled;
  }

  /** Marks the boxes as holding a wrong PIN (until the next edit), with a short shake. */
  markInvalid() {
    for (const b of this.#boxes) b.setAttribute("aria-invalid", "true");
    this.#root.classList.remove("shake");
    void this.#root.offsetWidth; // restart the animation
    this.#root.classList.add("shake");
  }

  #spread(symbols, start) {
    if (!symbols) return;
    // A whole code lands from the first box wherever it was pasted.
    const from = symbols.length >= this.#boxes.length ? 0 : start;
    let i = from;
    for (const c of symbols.slice(0, this.#boxes.length - from)) this.#boxes[i++].value = c;
    (this.#boxes[Math.min(i, this.#boxes.length - 1)] ?? this.#boxes[0]).focus();
    this.#changed(true);
  }

  #onInput(i) {
    const box = this.#boxes[i];
    const symbols = this.sanitize(box.value);
    if (symbols.length <= 1) {
      box.value = symbols;
      if (symbols && i < this.#boxes.length - 1) this.#boxes[i + 1].focus();
      this.#changed(true);
    } else {
      box.value = "";
      this.#spread(symbols, i);
    }
  }

  #onKeyDown(e, i) {
    const box = this.#boxes[i];
    const go = (j) => {
      e.preventDefault();
      this.#boxes[Math.max(0, Math.min(this.#boxes.length - 1, j))].focus();
    };
    switch (e.key) {
      case "Backspace":
        if (!box.value && i > 0) {
          e.preventDefault();
          this.#boxes[i - 1].value = "";
          this.#boxes[i - 1].focus();
          this.#changed(false);
        }
        break;
      case "Delete":
        e.preventDefault();
        box.value = "";
        this.#changed(false);
        break;
      case "ArrowLeft":
        go(i - 1);
        break;
      case "ArrowRight":
        go(i + 1);
        break;
      case "Home":
        go(0);
        break;
      case "End":
        go(this.#boxes.length - 1);
        break;
      default:
        // A symbol outside the alphabet would only be dropped: refuse it at once.
        if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey && !this.sanitize(e.key)) {
          e.preventDefault();
        }
    }
  }

  #onPaste(e, i) {
    e.preventDefault();
    this.#spread(this.sanitize(e.clipboardData?.getData("text") ?? ""), i);
  }

  #changed(byUser) {
    for (const b of this.#boxes) {
      b.removeAttribute("aria-invalid");
      b.classList.toggle("filled", b.value.length === 1);
    }
    this.#root.classList.remove("shake");
    const complete = this.complete;
    this.#onChange(this.value, complete);
    if (complete && byUser) this.#onComplete(this.value);
  }
}
