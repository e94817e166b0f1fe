/**
 * The panel's component layer: the ONLY place that creates @vscode/webview-ui-toolkit elements.
 * The toolkit is archived upstream (January 2025); swapping it (e.g. for @vscode-elements/elements) should touch this folder only.
 * Everything here returns plain HTMLElements plus small typed handles, so callers never see toolkit tag names or events.
 * The toolkit script (toolkit.min.js, loaded before panel.js) registers every `vscode-*` element on load.
 */

/** Properties the toolkit's form-associated elements expose (FAST Foundation). */
interface ValueElement extends HTMLElement {
  value: string;
  disabled: boolean;
}
interface CheckedElement extends HTMLElement {
  checked: boolean;
  disabled: boolean;
}

function toolkit<T extends HTMLElement>(tag: string, text?: string): T {
  const element = document.createElement(tag) as T;
  if (text !== undefined) element.textContent = text;
  return element;
}

export interface Control<E extends HTMLElement = HTMLElement> {
  readonly element: E;
  setDisabled(disabled: boolean): void;
}

export interface ButtonOptions {
  label: string;
  appearance?: 'primary' | 'secondary';
  title?: string;
  onClick: () => void;
}

export function createButton(options: ButtonOptions): Control & { setLabel(label: string): void } {
  const element = toolkit<ValueElement>('vscode-button', options.label);
  element.setAttribute('appearance', options.appearance ?? 'secondary');
  if (options.title) element.title = options.title;
  element.addEventListener('click', () => {
    if (!element.disabled) options.onClick();
  });
  return {
    element,
    setDisabled: (disabled) => {
      element.disabled = disabled;
    },
    setLabel: (label) => {
      element.textContent = label;
    },
  };
}

export interface CheckboxOptions {
  label: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
}

export function createCheckbox(options: CheckboxOptions): Control & { setChecked(checked: boolean): void } {
  const element = toolkit<CheckedElement>('vscode-checkbox', options.label);
  element.checked = options.checked;
  element.addEventListener('change', () => options.onChange(element.checked));
  return {
    element,
    setDisabled: (disabled) => {
      element.disabled = disabled;
    },
    setChecked: (checked) => {
      if (element.checked !== checked) element.checked = checked;
    },
  };
}

export interface TextFieldOptions {
  label: string;
  value: string;
  placeholder?: string;
  /** Fires on every keystroke; callers debounce. */
  onInput: (value: string) => void;
  className?: string;
}

export function createTextField(options: TextFieldOptions): Control & { setValue(value: string): void; getValue(): string } {
  const element = toolkit<ValueElement>('vscode-text-field', options.label);
  element.value = options.value;
  if (options.placeholder) element.setAttribute('placeholder', options.placeholder);
  if (options.className) element.className = options.className;
  element.addEventListener('input', () => options.onInput(element.value));
  return {
    element,
    setDisabled: (disabled) => {
      element.disabled = disabled;
    },
    setValue: (value) => {
      if (element.value !== value) element.value = value;
    },
    getValue: () => element.value,
  };
}

export interface Choice<T extends string> {
  value: T;
  label: string;
}

export interface ChoiceOptions<T extends string> {
  label: string;
  choices: readonly Choice<T>[];
  value: T;
  onChange: (value: T) => void;
}

function choiceOf<T extends string>(choices: readonly Choice<T>[], value: string): T | undefined {
  return choices.find((c) => c.value === value)?.value;
}

/** A labelled drop-down list. */
export function createDropdown<T extends string>(options: ChoiceOptions<T>): Control & { setValue(value: T): void } {
  const wrapper = document.createElement('label');
  wrapper.className = 'dropdown-field';
  const caption = document.createElement('span');
  caption.className = 'field-label';
  caption.textContent = options.label;
  const element = toolkit<ValueElement>('vscode-dropdown');
  for (const choice of options.choices) {
    const option = toolkit<ValueElement>('vscode-option', choice.label);
    option.setAttribute('value', choice.value);
    if (choice.value === options.value) option.setAttribute('selected', '');
    element.append(option);
  }
  element.addEventListener('change', () => {
    const value = choiceOf(options.choices, element.value);
    if (value !== undefined) options.onChange(value);
  });
  wrapper.append(caption, element);
  return {
    element: wrapper,
    setDisabled: (disabled) => {
      element.disabled = disabled;
    },
    setValue: (value) => {
      if (element.value !== value) element.value = value;
    },
  };
}

/** A labelled group of radio buttons (one choice of a few). */
export function createRadioGroup<T extends string>(options: ChoiceOptions<T>): Control & { setValue(value: T): void } {
  const element = toolkit<ValueElement>('vscode-radio-group');
  const label = document.createElement('label');
  label.slot = 'label';
  label.textContent = options.label;
  element.append(label);
  const radios = new Map<T, CheckedElement>();
  for (const choice of options.choices) {
    const radio = toolkit<CheckedElement & { value: string }>('vscode-radio', choice.label);
    radio.value = choice.value;
    radio.setAttribute('value', choice.value);
    radio.dataset.choice = choice.value;
    if (choice.value === options.value) radio.setAttribute('checked', '');
    radios.set(choice.value, radio);
    element.append(radio);
  }
  element.addEventListener('change', () => {
    const value = choiceOf(options.choices, element.value);
    if (value !== undefined) options.onChange(value);
  });
  return {
    element,
    setDisabled: (disabled) => {
      element.disabled = disabled;
    },
    setValue: (value) => {
      const radio = radios.get(value);
      if (radio && !radio.checked) radio.checked = true;
    },
  };
}

export interface Tab {
  id: string;
  label: string;
  content: HTMLElement;
}

/** Tabs with one content view each. */
export function createTabs(tabs: readonly Tab[]): { element: HTMLElement; select(id: string): void } {
  const element = toolkit<HTMLElement>('vscode-panels');
  for (const tab of tabs) {
    const header = toolkit<HTMLElement>('vscode-panel-tab', tab.label);
    header.id = `tab-${tab.id}`;
    element.append(header);
  }
  for (const tab of tabs) {
    const view = toolkit<HTMLElement>('vscode-panel-view');
    view.id = `view-${tab.id}`;
    view.append(tab.content);
    element.append(view);
  }
  return {
    element,
    select: (id) => element.setAttribute('activeid', `tab-${id}`),
  };
}

/** A count badge. */
export function createBadge(text: string): { element: HTMLElement; setText(text: string): void } {
  const element = toolkit<HTMLElement>('vscode-badge', text);
  return {
    element,
    setText: (value) => {
      if (element.textContent !== value) element.textContent = value;
    },
  };
}

export function createProgressRing(): HTMLElement {
  return toolkit<HTMLElement>('vscode-progress-ring');
}

export function createDivider(): HTMLElement {
  return toolkit<HTMLElement>('vscode-divider');
}

/** Resolves once the toolkit has registered its elements (it is loaded as a separate module before the panel). */
export async function componentsReady(timeoutMs = 3000): Promise<boolean> {
  const defined = Promise.all(['vscode-button', 'vscode-checkbox', 'vscode-dropdown'].map((tag) => customElements.whenDefined(tag)));
  const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs));
  return (await Promise.race([defined.then(() => 'ok' as const), timeout])) === 'ok';
}
