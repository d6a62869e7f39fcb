import { describe, expect, it } from 'vitest';
import { AppError, ERROR_CODES } from '../../src/errors.js';
import { HTTP_STATUS, errorBody, validationMessage } from '../../src/http/errors.js';
import { httpHarness } from '../support/http.js';

describe('error mapping', () => {
  it('gives every code a 4xx or 5xx status', () => {
    for (const code of ERROR_CODES) expect(HTTP_STATUS[code], code).toBeGreaterThanOrEqual(400);
  });

  it("builds WAHA's body with the code, the reason phrase and the details, which cannot override the fixed fields", () => {
    const body = errorBody(new AppError('SESSION_NOT_WORKING', 'not working', { status: 'STOPPED', statusCode: 1, code: 'X' }));
    expect(body).toEqual({ statusCode: 422, code: 'SESSION_NOT_WORKING', error: 'Unprocessable Entity', message: 'not working', status: 'STOPPED' });
  });

  it.each([
    ['body', [{ keyword: 'required', instancePath: '/config/webhooks/0', params: { missingProperty: 'url' } }], 'config.webhooks[0].url', 'config.webhooks[0].url is required'],
    ['body', [{ keyword: 'enum', instancePath: '/presence', params: { allowedValues: ['a', 'b'] } }], 'presence', 'presence must be one of: a, b'],
    ['querystring', [{ keyword: 'type', instancePath: '/all', params: {}, message: 'must be boolean' }], 'query.all', 'query.all must be boolean'],
    ['params', [{ keyword: 'type', instancePath: '/session', params: {}, message: 'must be string' }], 'params.session', 'params.session must be string'],
    ['body', [{ keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'x' } }], 'x', 'x is not a known field; remove it'],
    ['body', [{ keyword: 'type', instancePath: '', params: {}, message: 'must be object' }], 'body', 'the request body must be a JSON object (Content-Type: application/json)'],
  ])('names the field of a %s error', (context, errors, field, message) => {
    expect(validationMessage(context, errors)).toEqual({ field, message });
  });

  it('answers malformed JSON, a wrong content type and an unknown route in the same shape', async () => {
    const h = await httpHarness();
    const headers = { 'x-api-key': h.apiKey };
    const malformed = await h.server.inject({ method: 'POST', url: '/api/sessions', headers: { ...headers, 'content-type': 'application/json' }, payload: '{"name":' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', error: 'Bad Request' });
    const text = await h.server.inject({ method: 'POST', url: '/api/sessions', headers: { ...headers, 'content-type': 'text/plain' }, payload: 'name=x' });
    expect(text.statusCode).toBe(415);
    expect(text.json()).toMatchObject({ statusCode: 415, code: 'UNSUPPORTED_MEDIA_TYPE', error: 'Unsupported Media Type', message: expect.stringMatching(/application\/json/) as unknown });
    const unknown = await h.server.inject({ method: 'GET', url: '/api/nothing/here/at/all', headers });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toEqual({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: 'no route GET /api/nothing/here/at/all; see the API documentation at /' });
    const badQuery = await h.server.inject({ method: 'GET', url: '/api/sessions?all=maybe', headers });
    expect(badQuery.statusCode).toBe(400);
    expect(badQuery.json()).toMatchObject({ code: 'VALIDATION_FAILED', field: 'query.all', message: 'query.all must be boolean' });
  });

  it('hides the details of an unexpected failure (500 INTERNAL)', async () => {
    const h = await httpHarness();
    await h.storage.close();
    const response = await h.request('GET', '/api/sessions');
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({ statusCode: 500, code: 'INTERNAL', error: 'Internal Server Error', message: 'internal server error; see the server log' });
  });
});
