// @ts-check
import { enc, post } from './api.js';

/**
 * Sandbox mode only (`npm start -- --sandbox`): make contacts and groups on the local sandbox
 * network (its admin API, /api/sandbox/*), subscribe the session to them, and make them change
 * presence, so a newcomer sees the board move without a phone.
 */

const NAMES = ['Ada', 'Grace', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Edsger', 'Radia'];

function randomPhone() {
  return `49155${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
}

/** @param {string} session @returns {Promise<string>} the contact's chat id */
export async function addSandboxContact(session) {
  const phone = randomPhone();
  const name = NAMES[Math.floor(Math.random() * NAMES.length)] ?? 'Contact';
  await post('api/sandbox/contacts', { phone, name });
  const chatId = `${phone}@c.us`;
  await post(`api/${enc(session)}/presence/${enc(chatId)}/subscribe`);
  return chatId;
}

/** @param {string} session @param {string} me the session's own chat id @returns {Promise<{ id: string, members: string[] }>} */
export async function addSandboxGroup(session, me) {
  const members = [];
  for (let i = 0; i < 2; i += 1) {
    const phone = randomPhone();
    await post('api/sandbox/contacts', { phone, name: NAMES[Math.floor(Math.random() * NAMES.length)] ?? 'Member' });
    members.push(`${phone}@c.us`);
  }
  /** @type {{ id: string }} */
  const group = await post('api/sandbox/groups', { subject: `Sandbox group ${Math.floor(Math.random() * 1000)}`, participants: [me, ...members] });
  await post(`api/${enc(session)}/presence/${enc(group.id)}/subscribe`);
  return { id: group.id, members };
}

/**
 * @param {string} chatId a contact or group id
 * @param {string} participant the contact that acts (its phone's chat id)
 * @param {'online' | 'offline' | 'typing' | 'recording' | 'paused'} presence
 * @param {string} me the session's chat id (where a contact types to)
 */
export async function actAs(chatId, participant, presence, me) {
  const phone = participant.split('@')[0] ?? '';
  const where = chatId.endsWith('@g.us') ? chatId : me;
  await post(`api/sandbox/contacts/${enc(phone)}/presence`, presence === 'online' || presence === 'offline' ? { presence } : { presence, chatId: where });
}

const STEPS = /** @type {const} */ (['online', 'typing', 'paused', 'recording', 'paused', 'offline']);

/**
 * Every 3 s, one step of online → typing → paused → recording → paused → offline for each
 * participant, a different step each: returns the function that stops it.
 * @param {() => { chatId: string, participants: string[] }[]} chats
 * @param {string} me
 */
export function animate(chats, me) {
  let step = 0;
  const timer = setInterval(() => {
    step += 1;
    let offset = 0;
    for (const chat of chats()) {
      for (const participant of chat.participants) {
        const presence = STEPS[(step + offset) % STEPS.length] ?? 'online';
        offset += 1;
        actAs(chat.chatId, participant, presence, me).catch((error) => console.warn('sandbox presence failed', error));
      }
    }
  }, 3000);
  return () => clearInterval(timer);
}
