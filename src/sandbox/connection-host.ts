import type { Logger } from 'pino';
import type { BinaryNode } from 'baileys';
import type { ChatStates } from './chatstate.js';
import type { FailureReason } from './closes.js';
import type { CompanionFinish, LinkCodeRequest } from './linkcode.js';
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
