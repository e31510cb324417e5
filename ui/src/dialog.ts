/**
 * An in-page confirmation (a <dialog>, so a browser driven by tests can click it): a question,
 * optional text fields and check boxes, Confirm and Cancel. Resolves with the values, or
 * undefined when cancelled.
 */
import { h } from './dom.ts';

export interface Field {
  name: string;
  label: string;
  kind: 'text' | 'checkbox';
  placeholder?: string;
}

export function confirmDialog(o: { title: string; message: string; confirm: string; danger?: boolean; fields?: Field[] }): Promise<Record<string, string | boolean> | undefined> {
  const inputs = new Map<string, HTMLInputElement>();
  const rows = (o.fields ?? []).map((f) => {
    const input = h('input', { type: f.kind, name: f.name, placeholder: f.placeholder, 'data-testid': `dialog-${f.name}` });
    inputs.set(f.name, input);
    return f.kind === 'checkbox' ? h('label', { class: 'check' }, input, ` ${f.label}`) : h('label', { class: 'field' }, f.label, input);
  });
  const dialog = h('dialog', { class: 'confirm', 'data-testid': 'confirm-dialog' });
  return new Promise((resolve) => {
    let answer: Record<string, string | boolean> | undefined;
    const close = (ok: boolean) => {
      if (ok) answer = Object.fromEntries([...inputs].map(([k, i]) => [k, i.type === 'checkbox' ? i.checked : i.value.trim()]));
      dialog.close();
    };
    dialog.append(
      h('h3', {}, o.title),
      h('p', {}, o.message),
      ...rows,
      h(
        'div',
        { class: 'dialog-buttons' },
        h('button', { type: 'button', class: 'secondary', 'data-testid': 'dialog-cancel', onclick: () => close(false) }, 'Cancel'),
        h('button', { type: 'button', class: o.danger ? 'danger' : 'primary', 'data-testid': 'dialog-confirm', onclick: () => close(true) }, o.confirm),
      ),
    );
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
