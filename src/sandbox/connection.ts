import { inflateSync } from 'node:zlib';
import type { WebSocket } from 'ws';
import type { BinaryNode } from 'baileys';
import { binaryNodeToString, decodeBinaryNode, encodeBinaryNode } from 'baileys';
import { parseChatState } from './chatstate.js';
import { SERVER_STATIC_KEY_PAIR } from './trust.js';
import { createFrameReader, encodeFrame } from './frames.js';
import type { IqAnswer } from './iq.js';
import { IQ_HANDLERS } from './iq.js';
import { failureNode } from './closes.js';
import { offlineNode, readClientPayload, successNode } from './login.js';
import type { Transport } from './noise.js';
import { createNoiseResponder } from './noise.js';
import type { ConnectionHost } from './connection-host.js';
import { startPairingStage } from './connection-pairing.js';
import type { PairingStage } from './connection-pairing.js';
import { pairDeviceNode } from './pairing.js';
import { handlePresence } from './presence.js';
import { SERVER_JID } from './jid.js';
import type { Account, Device, Peer } from './state.js';


let nextConnectionId = 1;
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

type Stage = 'hello' | 'finish' | 'pairing' | 'open' | 'closed';

/**
 * One client WebSocket: handshake, then login or pairing, then protocol nodes dispatched by tag.
 * Frames of a connection are processed strictly in order (node decoding is async). Anything
 * malformed, oversized or out of order closes this connection only, with the reason logged.
 */
export function acceptConnection(ws: WebSocket, host: ConnectionHost): void {
  const id = nextConnectionId++;
  const logger = host.logger.child({ conn: id });
  const reader = createFrameReader(host.maxFrameBytes);
  const noise = createNoiseResponder({ staticKeyPair: SERVER_STATIC_KEY_PAIR, certChain: host.certChain });
  const pendingAnswers = new Map<string, (node: BinaryNode) => void>();
  let stage: Stage = 'hello';
  let transport: Transport | null = null;
  let peer: Peer | null = null;
  let pairing: PairingStage | null = null;
  let queue: Promise<void> = Promise.resolve();
  let nextIqId = 1;

  const handshakeTimer = setTimeout(() => fail(`handshake not finished within ${host.handshakeTimeoutMs} ms`), host.handshakeTimeoutMs);
  handshakeTimer.unref();

  function sendRaw(payload: Uint8Array): void {
    if (ws.readyState !== ws.OPEN) return;
    // A client that stops reading would make the server buffer its stanzas without bound.
    if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      fail(`client is not reading: ${ws.bufferedAmount} bytes waiting to be sent`);
      return;
    }
    ws.send(encodeFrame(payload));
  }

  function sendEncoded(encoded: Uint8Array): void {
    if (stage === 'closed' || transport === null) return;
    sendRaw(transport.encrypt(encoded));
  }

  function send(node: BinaryNode): void {
    if (logger.isLevelEnabled('trace')) logger.trace({ xml: binaryNodeToString(node) }, 'send');
    sendEncoded(encodeBinaryNode(node));
  }

  function cleanup(): void {
    if (stage === 'closed') return;
    stage = 'closed';
    clearTimeout(handshakeTimer);
    pendingAnswers.clear();
    if (pairing) {
      pairing.close();
      host.cancelScan(pairing.wait);
    }
    if (peer) host.detach(peer);
  }

  /** Closes this connection for a protocol violation; the reason goes to the log and the close frame. */
  function fail(reason: string): void {
    if (stage === 'closed') return;
    logger.warn({ reason, stage }, 'closing connection');
    host.failed();
    cleanup();
    ws.close(1002, reason.slice(0, 120));
  }

  function end(node: BinaryNode): void {
    send(node);
    cleanup();
    ws.close();
  }

  const nextId = () => `sb.${id}.${nextIqId++}`;

  async function decodeNode(frame: Buffer): Promise<BinaryNode> {
    if (!transport) throw new Error('no transport');
    const plain = transport.decrypt(frame);
    if (plain.length === 0) throw new Error('empty node');
    // Flag bit 2 means zlib-compressed; inflate with a bound so a small frame cannot explode.
    if ((plain[0] ?? 0) & 2) {
      const inflated = inflateSync(plain.subarray(1), { maxOutputLength: host.maxFrameBytes * 4 });
      return decodeBinaryNode(Buffer.concat([Buffer.from([0]), inflated]));
    }
    return decodeBinaryNode(plain);
  }

  function startSession(account: Account, device: Device): void {
    clearTimeout(handshakeTimer);
    stage = 'open';
    peer = {
      id,
      account,
      device,
      available: false,
      subscriptions: new Map(),
      connectedAt: host.view.now(),
      send,
      sendEncoded,
      drop(reason) {
        logger.info({ reason }, 'dropping connection');
        cleanup();
        ws.terminate();
      },
      end(node, reason) {
        logger.info({ reason, xml: binaryNodeToString(node) }, 'ending the stream');
        end(node);
      },
    };
    host.attach(peer);
    send(successNode(account, device, Math.floor(host.view.now() / 1000)));
    send(offlineNode());
    logger.info({ phone: account.phone, device: device.id }, 'logged in');
  }

  function startPairing(noiseKey: Buffer, identityKey: Buffer): void {
    stage = 'pairing';
    clearTimeout(handshakeTimer);
    pairing = startPairingStage({
      id,
      logger,
      host,
      pendingAnswers,
      pairing: () => stage === 'pairing',
      nextId,
      send,
      sendAnswer,
      fail,
      end,
      onClose: (listener) => {
        ws.once('close', listener);
      },
    }, noiseKey, identityKey);
    host.awaitScan(pairing.wait);
    send(pairDeviceNode(nextId(), pairing.wait.refs));
    logger.info('device waiting for its QR to be scanned');
  }

  function finishHandshake(frame: Buffer): void {
    const result = noise.readFinish(frame);
    transport = result.transport;
    const request = readClientPayload(result.clientPayload);
    if (request.kind === 'invalid') {
      fail(request.reason);
      return;
    }
    if (request.kind === 'pair') {
      startPairing(result.clientStaticKey, request.identityKey);
      return;
    }
    const outcome = host.authenticate({ phone: request.phone, deviceId: request.deviceId, noiseKey: result.clientStaticKey, pushName: request.pushName });
    if ('refused' in outcome) {
      logger.warn({ phone: request.phone, device: request.deviceId, reason: outcome.refused, failure: outcome.failure }, 'login refused');
      host.failed();
      end(failureNode(outcome.failure));
      return;
    }
    startSession(outcome.account, outcome.device);
  }

  function answerIq(current: Peer, node: BinaryNode): void {
    const xmlns = node.attrs.xmlns ?? '';
    const handler = IQ_HANDLERS[xmlns];
    if (!handler) logger.debug({ xmlns, xml: binaryNodeToString(node).slice(0, 300) }, 'unhandled iq answered with an empty result');
    sendAnswer(node, handler ? handler({ view: host.view, peer: current, node }) : []);
    // Privacy and pre-key uploads change what the network keeps.
    if (xmlns === 'privacy' || xmlns === 'encrypt') host.changed();
  }

  function sendAnswer(node: BinaryNode, answer: IqAnswer): void {
    const attrs: Record<string, string> = { from: node.attrs.to ?? SERVER_JID, id: node.attrs.id ?? '' };
    if (Array.isArray(answer)) {
      send({ tag: 'iq', attrs: { ...attrs, type: 'result' }, ...(answer.length > 0 ? { content: answer } : {}) });
    } else {
      send({ tag: 'iq', attrs: { ...attrs, type: 'error' }, content: [{ tag: 'error', attrs: { code: String(answer.error.code), text: answer.error.text } }] });
    }
  }

  /** Protocol nodes of a logged-in connection, by tag. Tags not listed are logged and ignored. */
  const NODE_HANDLERS: Readonly<Record<string, (current: Peer, node: BinaryNode) => void>> = {
    iq: answerIq,
    presence: (current, node) => {
      handlePresence(host.view, current, node);
      host.changed();
    },
    chatstate: (current, node) => {
      const state = parseChatState(node);
      const to = node.attrs.to;
      if (state === null || to === undefined) {
        logger.debug({ xml: binaryNodeToString(node) }, 'chatstate without a target or a known state ignored');
        return;
      }
      if (!host.chatStates.send(current.account, to, state)) logger.debug({ to }, 'chatstate to an unknown chat dropped');
    },
    // Telemetry (unified_session) and acks carry nothing the sandbox models.
    ib: () => undefined,
    ack: () => undefined,
    receipt: () => undefined,
  };

  function handleNode(node: BinaryNode): void {
    if (node.tag === 'iq' && (node.attrs.type === 'result' || node.attrs.type === 'error')) {
      const waiter = pendingAnswers.get(node.attrs.id ?? '');
      if (waiter) {
        pendingAnswers.delete(node.attrs.id ?? '');
        waiter(node);
      }
      return;
    }
    if (stage === 'pairing' && pairing !== null) {
      if (node.tag === 'iq') pairing.answerIq(node);
      return; // acks and the like from a device being paired carry nothing
    }
    if (stage !== 'open' || peer === null) return;
    const handler = NODE_HANDLERS[node.tag];
    if (handler) handler(peer, node);
    else logger.debug({ tag: node.tag }, 'unhandled node ignored');
  }

  async function handleFrame(frame: Buffer): Promise<void> {
    switch (stage) {
      case 'hello':
        sendRaw(noise.readHello(frame));
        stage = 'finish';
        return;
      case 'finish':
        finishHandshake(frame);
        return;
      case 'pairing':
      case 'open':
        handleNode(await decodeNode(frame));
        return;
      case 'closed':
        return;
    }
  }

  ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
    if (stage === 'closed') return;
    const chunk = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    let frames: Buffer[];
    try {
      frames = reader.push(chunk);
    } catch (error) {
      fail(error instanceof Error ? error.message : String(error));
      return;
    }
    for (const frame of frames) {
      queue = queue.then(
        () => handleFrame(frame),
      ).catch((error: unknown) => {
        fail(`bad frame in stage ${stage}: ${error instanceof Error ? error.message : String(error)}`);
      });
    }
  });
  ws.on('close', () => {
    if (stage !== 'closed') logger.debug('client closed the connection');
    cleanup();
  });
  ws.on('error', (error) => {
    logger.warn({ err: error }, 'websocket error');
    cleanup();
  });
}

