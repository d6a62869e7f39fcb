import { AppError } from '../errors.js';
import { isValidSessionName } from '../presence/sessions.js';
import type { SessionConfig } from '../presence/sessions.js';

/** Refuses a session name WAHA would refuse, saying what is allowed. */
export function assertSessionName(name: string): void {
  if (!isValidSessionName(name)) {
    throw new AppError('VALIDATION_FAILED', `session name "${name}" is not valid: use 1 to 64 letters, digits, "_" or "-"`, { field: 'name' });
  }
}

/**
 * Checks what a JSON schema cannot say well: every webhook URL parses and uses http or https, and
 * header names are tokens. Throws VALIDATION_FAILED naming the field.
 */
export function assertSessionConfig(config: SessionConfig): void {
  (config.webhooks ?? []).forEach((webhook, index) => {
    const field = `config.webhooks[${index}].url`;
    let url: URL;
    try {
      url = new URL(webhook.url);
    } catch {
      throw new AppError('VALIDATION_FAILED', `${field} must be an absolute http or https URL, got "${webhook.url}"`, { field });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new AppError('VALIDATION_FAILED', `${field} must use http or https, got "${url.protocol}"`, { field });
    }
    (webhook.customHeaders ?? []).forEach((header, headerIndex) => {
      if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(header.name)) {
        const headerField = `config.webhooks[${index}].customHeaders[${headerIndex}].name`;
        throw new AppError('VALIDATION_FAILED', `${headerField} must be an HTTP header name, got "${header.name}"`, { field: headerField });
      }
    });
  });
}
