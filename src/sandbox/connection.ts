import { inflateSync } from 'node:zlib';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import type { BinaryNode } from 'baileys';
import { binaryNodeToString, decodeBinaryNode, encodeBinaryNode } from 'baileys';
import type { ChatStates } from './chatstate.js';
import { parseChatState } from './chatstate.js';
import { SERVER_STATIC_KEY_PAIR } from './trust.js';
import { createFrameReader, encodeFrame } from './frames.js';
import type { IqAnswer } from './iq.js';
import { IQ_HANDLERS } from './iq.js';
import { failureNode } from './closes.js';
import type { FailureReason } from './closes.js';
import { offlineNode, readClientPayload, successNode } from './login.js';
import type { Transport } from './noise.js';
import { createNoiseResponder } from './noise.js';
import { companionHelloAnswer, LinkCodeError, linkCodeStage, newLinkCodeRef, readCompanionFinish, readCompanionHello } from './linkcode.js';
import type { CompanionFinish, LinkCodeRequest } from './linkcode.js';
import { newPairRefs, pairDeviceNode } from './pairing.js';
import { handlePresence } from './presence.js';
import { SERVER_JID } from './jid.js';
import type { Account, Device, NetworkView, Peer } from './state.js';

/** A device waiting for its QR to be scanned, or for its pairing code to be typed on the phone. */
export interface PairingWait {
  readonly connectionId: number;
  readonly refs: readonly string[];
  readonly noiseKey: Buffer;
  readonly identityKey: Buffer;
  /** The device's latest request to link by code (`companion_hello`); null while it only shows QRs. */
  linkCode(): LinkCodeRequest | null;
  /**
   * Relays the phone's `primary_hello` (`build(id)`) for `request` and resolves with the device's
   * `companion_finish`, which the connection has already acknowledged. Rejects if `request` is no
   * longer the device's current one (it asked for a new code), if the device goes away, or if it does
   * not answer within the handshake timeout.
   */
  primaryHello(request: LinkCodeRequest, build: (id: string) => BinaryNode): Promise<CompanionFinish>;
  /**
   * Sends the node `build(id)` (pair-success), waits for the client's answer and lets `check` judge
   * it; on success ends the stream with 515 (restart required). Rejects if the client goes away,
   * answers wrongly or not within the handshake timeout.
   */
  complete(build: (id: string) => BinaryNode, check: (answer: BinaryNode) => string | null): Promise<void>;
}

/** What a connection needs from the network it belongs to. */
export interface ConnectionHost {
  readonly view: NetworkView;
  readonly chatStates: ChatStates;
  readonly logger: Logger;
  readonly certChain: Uint8Array;
  readonly maxFrameBytes: number;
  /** A half-finished handshake (or an unanswered pairing step) is closed after this long. */
  readonly handshakeTimeoutMs: number;
  /** The account and device for a login, adopting unknown ones; or why it is refused and with which `<failure reason>`. */
  authenticate(login: { phone: string; deviceId: number; noiseKey: Buffer; pushName: string | null }): { account: Account; device: Device } | { refused: string; failure: FailureReason };
  attach(peer: Peer): void;
  detach(peer: Peer): void;
  /** Something about accounts or connections may have changed (wakes `SandboxNetwork.until`). */
  changed(): void;
  /** The sandbox closed a connection for a protocol problem, a timeout or a refused login (counted in `stats`). */
  failed(): void;
  awaitScan(wait: PairingWait): void;
  /**
   * The device asked to link to `request.phone` by code; null when the network lets it wait for the
   * code, or why not (answered as an iq error with that code and text).
   */
  awaitCode(wait: PairingWait, request: LinkCodeRequest): { readonly code: number; readonly text: string } | null;
  /** The device is gone or paired: it waits neither for a scan nor for a code any more. */
  cancelScan(wait: PairingWait): void;
}

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
  let pairing: PairingWait | null = null;
  /** The current code request of a device being paired, and who waits for its `companion_finish`. */
  let linkRequest: LinkCodeRequest | null = null;
  let finishWaiter: { readonly ref: string; resolve(finish: CompanionFinish): void; reject(error: Error): void } | null = null;
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
    finishWaiter?.reject(new Error('the device disconnected before it finished linking by code'));
    finishWaiter = null;
    if (pairing) host.cancelScan(pairing);
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
    const refs = newPairRefs();
    pairing = {
      connectionId: id,
      refs,
      noiseKey,
      identityKey,
      linkCode: () => linkRequest,
      primaryHello: (request, build) =>
        new Promise<CompanionFinish>((resolve, reject) => {
          if (stage !== 'pairing' || linkRequest === null) {
            reject(new Error('the device is no longer waiting for a pairing code'));
            return;
          }
          if (linkRequest !== request) {
            reject(new Error('the device asked for a new pairing code meanwhile; enter the new one'));
            return;
          }
          finishWaiter?.reject(new Error('another primary_hello was sent to the device'));
          const timer = setTimeout(() => {
            if (finishWaiter === waiter) finishWaiter = null;
            reject(new Error('the device did not answer primary_hello with companion_finish in time'));
          }, host.handshakeTimeoutMs);
          const waiter = {
            ref: request.ref,
            resolve: (finish: CompanionFinish) => {
              clearTimeout(timer);
              resolve(finish);
            },
            reject: (error: Error) => {
              clearTimeout(timer);
              reject(error);
            },
          };
          finishWaiter = waiter;
          send(build(nextId()));
        }),
      complete: (build, check) =>
        new Promise<void>((resolve, reject) => {
          if (stage !== 'pairing') {
            reject(new Error('the device disconnected before it could be paired'));
            return;
          }
          const iqId = nextId();
          const timer = setTimeout(() => {
            pendingAnswers.delete(iqId);
            reject(new Error('the device did not answer pair-success in time'));
            fail('no answer to pair-success');
          }, host.handshakeTimeoutMs);
          pendingAnswers.set(iqId, (answer) => {
            clearTimeout(timer);
            const problem = answer.attrs.type === 'result' ? check(answer) : `pair-success answered with ${answer.attrs.type ?? 'nothing'}`;
            if (problem !== null) {
              reject(new Error(problem));
              fail(problem);
              return;
            }
            resolve();
            // The client must reconnect with its new credentials (Baileys: restartRequired).
            end({ tag: 'stream:error', attrs: { code: '515' } });
          });
          ws.once('close', () => {
            clearTimeout(timer);
            reject(new Error('the device disconnected before it confirmed pairing'));
          });
          send(build(iqId));
        }),
    };
    host.awaitScan(pairing);
    send(pairDeviceNode(nextId(), refs));
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

  /**
   * An iq from a device being paired: keep-alive pings and linking by code (`link_code_companion_reg`,
   * see linkcode.ts for the stages) are answered. Anything else is ignored, as before pairing nothing else is due.
   */
  function answerPairingIq(wait: PairingWait, node: BinaryNode): void {
    // Baileys pings every 30 s in every state and drops the socket when nothing has come back for
    // 35 s: an unanswered ping would cut a device waiting to pair after ~60 s, long before its QRs
    // run out (~160 s) or a code is typed.
    if (node.attrs.xmlns === 'w:p') {
      sendAnswer(node, []);
      return;
    }
    const link = node.attrs.xmlns === 'md' && node.attrs.type === 'set' ? linkCodeStage(node) : null;
    if (link === null) {
      logger.debug({ xml: binaryNodeToString(node).slice(0, 300) }, 'iq from a device being paired ignored');
      return;
    }
    const badRequest = (error: unknown): void => {
      if (!(error instanceof LinkCodeError)) throw error;
      logger.info({ stage: link.stage, reason: error.message }, 'link code request refused');
      sendAnswer(node, { error: { code: 400, text: 'bad-request' } });
    };
    switch (link.stage) {
      case 'companion_hello': {
        let request: LinkCodeRequest;
        try {
          request = { ...readCompanionHello(link.reg, wait.noiseKey), ref: newLinkCodeRef(), sequence: (linkRequest?.sequence ?? 0) + 1 };
        } catch (error) {
          badRequest(error);
          return;
        }
        // Set before the network hears of it, so whoever it wakes sees the request; undone if refused.
        const previous = linkRequest;
        linkRequest = request;
        const refused = host.awaitCode(wait, request);
        if (refused !== null) {
          linkRequest = previous;
          logger.info({ phone: request.phone, refused }, 'link code request refused');
          sendAnswer(node, { error: refused });
          return;
        }
        // A new code replaces the old one: a phone still busy with the old code gets nowhere.
        finishWaiter?.reject(new Error('the device asked for a new pairing code meanwhile'));
        finishWaiter = null;
        sendAnswer(node, companionHelloAnswer(request.ref));
        logger.info({ phone: request.phone, platform: request.platform }, 'device waiting for its pairing code to be entered on the phone');
        return;
      }
      case 'companion_finish': {
        let finish: CompanionFinish;
        try {
          finish = readCompanionFinish(link.reg);
        } catch (error) {
          badRequest(error);
          return;
        }
        const waiter = finishWaiter;
        if (waiter === null || waiter.ref !== finish.ref) {
          sendAnswer(node, { error: { code: 404, text: 'item-not-found' } });
          return;
        }
        finishWaiter = null;
        // WhatsApp accepts companion_finish whatever the phone makes of the bundle.
        sendAnswer(node, []);
        waiter.resolve(finish);
        return;
      }
      default:
        sendAnswer(node, { error: { code: 400, text: 'bad-request' } });
    }
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
      if (node.tag === 'iq') answerPairingIq(pairing, node);
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

