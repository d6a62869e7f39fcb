import type { Logger } from 'pino';
import type { BinaryNode } from 'baileys';
import { binaryNodeToString } from 'baileys';
import type { ConnectionHost, PairingWait } from './connection-host.js';
import type { IqAnswer } from './iq.js';
import { companionHelloAnswer, LinkCodeError, linkCodeStage, newLinkCodeRef, readCompanionFinish, readCompanionHello } from './linkcode.js';
import type { CompanionFinish, LinkCodeRequest } from './linkcode.js';
import { newPairRefs } from './pairing.js';

/** What a connection's pairing stage needs from the connection (acceptConnection builds it). */
export interface PairingConnection {
  readonly id: number;
  readonly logger: Logger;
  readonly host: Pick<ConnectionHost, 'handshakeTimeoutMs' | 'awaitCode'>;
  /** Answers to iqs this connection sent, by iq id. */
  readonly pendingAnswers: Map<string, (node: BinaryNode) => void>;
  /** Whether the connection is still in its pairing stage (neither closed nor logged in). */
  pairing(): boolean;
  nextId(): string;
  send(node: BinaryNode): void;
  sendAnswer(node: BinaryNode, answer: IqAnswer): void;
  fail(reason: string): void;
  end(node: BinaryNode): void;
  onClose(listener: () => void): void;
}

/** A connection's device while it waits to be paired, by QR or by code. */
export interface PairingStage {
  readonly wait: PairingWait;
  answerIq(node: BinaryNode): void;
  /** The connection is closing: a phone waiting for the device's `companion_finish` hears so. */
  close(): void;
}

/** The pairing stage of a connection whose device asked to be paired: it waits for a scan or a code. */
export function startPairingStage(connection: PairingConnection, noiseKey: Buffer, identityKey: Buffer): PairingStage {
  const { logger, host } = connection;
  /** The current code request of a device being paired, and who waits for its `companion_finish`. */
  let linkRequest: LinkCodeRequest | null = null;
  let finishWaiter: { readonly ref: string; resolve(finish: CompanionFinish): void; reject(error: Error): void } | null = null;

  const wait: PairingWait = {
    connectionId: connection.id,
    refs: newPairRefs(),
    noiseKey,
    identityKey,
    linkCode: () => linkRequest,
    primaryHello: (request, build) =>
      new Promise<CompanionFinish>((resolve, reject) => {
        if (!connection.pairing() || linkRequest === null) {
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
        connection.send(build(connection.nextId()));
      }),
    complete: (build, check) =>
      new Promise<void>((resolve, reject) => {
        if (!connection.pairing()) {
          reject(new Error('the device disconnected before it could be paired'));
          return;
        }
        const iqId = connection.nextId();
        const timer = setTimeout(() => {
          connection.pendingAnswers.delete(iqId);
          reject(new Error('the device did not answer pair-success in time'));
          connection.fail('no answer to pair-success');
        }, host.handshakeTimeoutMs);
        connection.pendingAnswers.set(iqId, (answer) => {
          clearTimeout(timer);
          const problem = answer.attrs.type === 'result' ? check(answer) : `pair-success answered with ${answer.attrs.type ?? 'nothing'}`;
          if (problem !== null) {
            reject(new Error(problem));
            connection.fail(problem);
            return;
          }
          resolve();
          // The client must reconnect with its new credentials (Baileys: restartRequired).
          connection.end({ tag: 'stream:error', attrs: { code: '515' } });
        });
        connection.onClose(() => {
          clearTimeout(timer);
          reject(new Error('the device disconnected before it confirmed pairing'));
        });
        connection.send(build(iqId));
      }),
  };

  /**
   * An iq from a device being paired: keep-alive pings and linking by code (`link_code_companion_reg`,
   * see linkcode.ts for the stages) are answered. Anything else is ignored, as before pairing nothing else is due.
   */
  function answerIq(node: BinaryNode): void {
    // Baileys pings every 30 s in every state and drops the socket when nothing has come back for
    // 35 s: an unanswered ping would cut a device waiting to pair after ~60 s, long before its QRs
    // run out (~160 s) or a code is typed.
    if (node.attrs.xmlns === 'w:p') {
      connection.sendAnswer(node, []);
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
      connection.sendAnswer(node, { error: { code: 400, text: 'bad-request' } });
    };
    switch (link.stage) {
      case 'companion_hello': {
        let request: LinkCodeRequest;
        try {
          request = { ...readCompanionHello(link.reg, noiseKey), ref: newLinkCodeRef(), sequence: (linkRequest?.sequence ?? 0) + 1 };
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
          connection.sendAnswer(node, { error: refused });
          return;
        }
        // A new code replaces the old one: a phone still busy with the old code gets nowhere.
        finishWaiter?.reject(new Error('the device asked for a new pairing code meanwhile'));
        finishWaiter = null;
        connection.sendAnswer(node, companionHelloAnswer(request.ref));
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
          connection.sendAnswer(node, { error: { code: 404, text: 'item-not-found' } });
          return;
        }
        finishWaiter = null;
        // WhatsApp accepts companion_finish whatever the phone makes of the bundle.
        connection.sendAnswer(node, []);
        waiter.resolve(finish);
        return;
      }
      default:
        connection.sendAnswer(node, { error: { code: 400, text: 'bad-request' } });
    }
  }

  return {
    wait,
    answerIq,
    close: () => {
      finishWaiter?.reject(new Error('the device disconnected before it finished linking by code'));
      finishWaiter = null;
    },
  };
}
