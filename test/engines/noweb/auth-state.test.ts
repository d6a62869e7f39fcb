import { BufferJSON, initAuthCreds } from 'baileys';
import { describe, expect, it } from 'vitest';
import { CREDS_CATEGORY, CREDS_ID, loadAuthState } from '../../../src/engines/noweb/auth-state.js';
import { FakeAuthStore } from '../../support/fake-auth-store.js';

describe('auth state over AuthStore', () => {
  it('starts with fresh creds and saves them in one transaction, Buffers included', async () => {
    const store = new FakeAuthStore();
    const auth = await loadAuthState(store);
    expect(auth.resumed).toBe(false);
    auth.state.creds.me = { id: '491701234567:3@s.whatsapp.net', name: 'Ada' };
    await auth.saveCreds();
    expect(store.transactions).toHaveLength(1);
    const again = await loadAuthState(store);
    expect(again.resumed).toBe(true);
    expect(again.state.creds.me).toEqual({ id: '491701234567:3@s.whatsapp.net', name: 'Ada' });
    expect(Buffer.isBuffer(again.state.creds.noiseKey.private)).toBe(true);
    expect(Buffer.from(again.state.creds.noiseKey.private).equals(Buffer.from(auth.state.creds.noiseKey.private))).toBe(true);
  });

  it('writes one keys.set as one AuthStore.set, deletes nulls, reads back Buffers', async () => {
    const store = new FakeAuthStore();
    const { state } = await loadAuthState(store);
    const key = { public: Buffer.from([1, 2, 3]), private: Buffer.from([4, 5, 6]) };
    await state.keys.set({ 'pre-key': { '1': key, '2': key }, session: { 'a.0': Buffer.from('s') } });
    expect(store.transactions).toHaveLength(1);
    expect(store.transactions[0]).toHaveLength(3);
    await state.keys.set({ 'pre-key': { '1': null } });
    expect(store.transactions).toHaveLength(2);
    const got = await state.keys.get('pre-key', ['1', '2', '3']);
    expect(Object.keys(got)).toEqual(['2']);
    expect(Buffer.isBuffer(got['2']?.public)).toBe(true);
    expect(Buffer.from(got['2']?.private ?? []).equals(Buffer.from([4, 5, 6]))).toBe(true);
  });

  it('revives app-state-sync keys as protobuf objects', async () => {
    const store = new FakeAuthStore();
    const { state } = await loadAuthState(store);
    await state.keys.set({ 'app-state-sync-key': { AAA: { keyData: Buffer.from([9, 9]), timestamp: 5 } } });
    const got = await state.keys.get('app-state-sync-key', ['AAA']);
    const value = got.AAA;
    expect(value?.constructor.name).toBe('AppStateSyncKeyData');
    expect(Buffer.from(value?.keyData ?? []).equals(Buffer.from([9, 9]))).toBe(true);
  });

  it('a failed write changes nothing, and later saves still work', async () => {
    const store = new FakeAuthStore();
    const auth = await loadAuthState(store);
    store.failNextWrite(new Error('disk full'));
    await expect(auth.state.keys.set({ session: { x: Buffer.from('1'), y: Buffer.from('2') } })).rejects.toThrow('disk full');
    expect(store.data.size).toBe(0);
    store.failNextWrite(new Error('disk full'));
    await expect(auth.saveCreds()).rejects.toThrow('disk full');
    await auth.saveCreds();
    expect(store.count(CREDS_CATEGORY)).toBe(1);
  });

  it('writes nothing once disabled (after a logout wiped the store)', async () => {
    const store = new FakeAuthStore();
    const auth = await loadAuthState(store);
    auth.disable();
    await auth.saveCreds();
    await auth.state.keys.set({ session: { x: Buffer.from('1') } });
    expect(store.transactions).toHaveLength(0);
  });

  it('reads creds written by Baileys-compatible serialisation', async () => {
    const store = new FakeAuthStore();
    const creds = initAuthCreds();
    await store.set([{ category: CREDS_CATEGORY, id: CREDS_ID, value: JSON.stringify(creds, BufferJSON.replacer) }]);
    const auth = await loadAuthState(store);
    expect(auth.state.creds.registrationId).toBe(creds.registrationId);
    expect(auth.state.creds.advSecretKey).toBe(creds.advSecretKey);
  });
});
