import { readFileSync } from 'node:fs';

/**
 * Fills `{{NAME}}` placeholders in a config template. Every placeholder must have a value, so
 * a renamed variable fails loudly instead of producing a config with a literal `{{...}}`.
 * @param {string} templatePath
 * @param {Record<string, string | number>} vars
 * @returns {string}
 */
export function renderTemplate(templatePath, vars) {
  const text = readFileSync(templatePath, 'utf8');
  return text.replace(/\{\{([A-Z_]+)\}\}/g, (_, name) => {
    if (!(name in vars)) throw new Error(`${templatePath}: no value for {{${name}}}`);
    return String(vars[name]);
  });
}
