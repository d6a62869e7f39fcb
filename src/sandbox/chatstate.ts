import type { BinaryNode } from 'baileys';
import { binaryNodeToString, encodeBinaryNode } from 'baileys';
import { groupJid, lidJid, parseJid, pnJid } from './jid.js';
import { deliverable, resolveUser } from './presence.js';
import type { Account, NetworkView } from './state.js';

/** The chat states of WhatsApp: `recording` travels as `<composing media="audio"/>`. */
export type ChatState = 'composing' | 'recording' | 'paused';

export interface ChatStates {
  /** Sends `state` from `sender` into the chat `chatJid` (a user or a group). Returns false if the chat is unknown. */
  send(sender: Account, chatJid: string, state: ChatState): boolean;
  /** Cancels every pending expiry (on shutdown). */
  clear(): void;
}

function stateChild(state: ChatState): BinaryNode {
  if (state === 'recording') return { tag: 'composing', attrs: { media: 'audio' } };
  return { tag: state, attrs: {} };
}

/** Reads the state of an incoming `<chatstate>`: its first child, `media="audio"` meaning recording. */
export function parseChatState(node: BinaryNode): ChatState | null {
  const child = Array.isArray(node.content) ? node.content[0] : undefined;
  if (child?.tag === 'composing') return child.attrs.media === 'audio' ? 'recording' : 'composing';
  if (child?.tag === 'paused') return 'paused';
  return null;
}

/**
 * Rule — chat states go to the chat: `<chatstate to=X><composing/></chatstate>` reaches the
 * available connections of X as `<chatstate from=sender>` (no subscription needed: the receiver
 * has the chat), and in a group every other participant as `<chatstate from=group participant=sender>`.
 * Simulated contacts record what reaches them.
 *
 * Rule — typing expires: a composing (or recording) state that is not refreshed within `ttlMs`
 * reaches its receivers as `paused`, as WhatsApp clients stop showing "typing…" on their own.
 * A refresh restarts the clock; an explicit paused cancels it.
 */
export function createChatStates(view: NetworkView, ttlMs: number): ChatStates {
  const expiries = new Map<string, NodeJS.Timeout>();

  const deliver = (sender: Account, chatJid: string, state: ChatState): boolean => {
    const parsed = parseJid(chatJid);
    if (parsed === null) return false;
    const receivers: { account: Account; attrs: Record<string, string> }[] = [];
    if (parsed.kind === 'group') {
      const group = view.group(parsed.id);
      if (!group?.participants.includes(sender.phone)) return false;
      for (const phone of group.participants) {
        const account = view.account(phone);
        if (account && phone !== sender.phone) receivers.push({ account, attrs: { from: groupJid(group.id), participant: pnJid(sender.phone) } });
      }
    } else {
      const account = resolveUser(view, chatJid);
      if (!account) return false;
      if (account.phone !== sender.phone) receivers.push({ account, attrs: { from: pnJid(sender.phone) } });
    }
    // Receivers mostly get identical bytes: encode each distinct stanza once per fan-out.
    const encoded = new Map<string, Uint8Array>();
    const encode = (attrs: Record<string, string>): Uint8Array => {
      const key = `${attrs.from ?? ''}|${attrs.participant ?? ''}`;
      let bytes = encoded.get(key);
      if (!bytes) encoded.set(key, (bytes = encodeBinaryNode({ tag: 'chatstate', attrs, content: [stateChild(state)] })));
      return bytes;
    };
    for (const { account, attrs } of receivers) {
      for (const peer of view.peersOf(account.phone)) {
        if (!deliverable(peer)) continue;
        // Echo the form the receiver knows the sender by: LID if it subscribed by LID.
        const form = peer.subscriptions.get(sender.phone);
        const peerAttrs = { ...attrs };
        if (form?.endsWith('@lid') === true) {
          if (parsed.kind === 'group') peerAttrs.participant = lidJid(sender.lid);
          else peerAttrs.from = lidJid(sender.lid);
        }
        peer.sendEncoded(encode(peerAttrs));
      }
      if (account.kind === 'contact') {
        const node: BinaryNode = { tag: 'chatstate', attrs, content: [stateChild(state)] };
        view.record(account, {
          timestamp: view.now(),
          kind: 'chatstate',
          state,
          from: attrs.from ?? '',
          ...(attrs.participant === undefined ? {} : { participant: attrs.participant }),
          stanza: binaryNodeToString(node),
        });
      }
    }
    return true;
  };

  return {
    send(sender, chatJid, state) {
      const key = `${sender.phone}|${chatJid}`;
      const pending = expiries.get(key);
      if (pending) clearTimeout(pending);
      expiries.delete(key);
      if (!deliver(sender, chatJid, state)) return false;
      if (state !== 'paused') {
        const timer = setTimeout(() => {
          expiries.delete(key);
          deliver(sender, chatJid, 'paused');
        }, ttlMs);
        timer.unref();
        expiries.set(key, timer);
      }
      return true;
    },
    clear() {
      for (const timer of expiries.values()) clearTimeout(timer);
      expiries.clear();
    },
  };
}
