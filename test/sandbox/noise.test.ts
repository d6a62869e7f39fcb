import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { BinaryNode } from 'baileys';
import { Curve, NOISE_WA_HEADER, WA_CERT_DETAILS, decodeBinaryNode, encodeBinaryNode, makeNoiseHandler, proto } from 'baileys';
import { createNoiseResponder, HandshakeError } from '../../src/sandbox/noise.js';
import { createFrameReader, encodeFrame, FrameError } from '../../src/sandbox/frames.js';
import { buildCertChain, SANDBOX_ROOT_PUBLIC_KEY, SERVER_STATIC_KEY_PAIR } from '../../src/sandbox/trust.js';
import { generateKeyPair, keyPairFromSeed, sign, verify } from '../../src/sandbox/crypto.js';

const silent = pino({ level: 'silent' });

function handshake() {
  const ephemeral = Curve.generateKeyPair();
  const noiseKey = Curve.generateKeyPair();
  const client = makeNoiseHandler({ keyPair: ephemeral, NOISE_HEADER: NOISE_WA_HEADER, logger: silent });
  const server = createNoiseResponder({ staticKeyPair: SERVER_STATIC_KEY_PAIR, certChain: buildCertChain(SERVER_STATIC_KEY_PAIR.public, 1_700_000_000) });
  const reader = createFrameReader(1 << 20);
  return { ephemeral, noiseKey, client, server, reader };
}

describe('noise responder against Baileys’ own initiator', () => {
  it('completes the handshake, yields the client static key and payload, and carries binary nodes both ways', async () => {
    const { noiseKey, ephemeral, client, server, reader } = handshake();
    const hello = client.encodeFrame(proto.HandshakeMessage.encode({ clientHello: { ephemeral: ephemeral.public } }).finish());
    const [helloFrame] = reader.push(hello);
    expect(helloFrame).toBeDefined();
    const serverHello = server.readHello(helloFrame!);

    const previousRoot = WA_CERT_DETAILS.PUBLIC_KEY;
    WA_CERT_DETAILS.PUBLIC_KEY = Buffer.from(SANDBOX_ROOT_PUBLIC_KEY);
    let keyEnc: Uint8Array;
    try {
      keyEnc = client.processHandshake(proto.HandshakeMessage.decode(serverHello), noiseKey);
    } finally {
      WA_CERT_DETAILS.PUBLIC_KEY = previousRoot;
    }
    const payload = proto.ClientPayload.encode({ username: 15550100001, device: 3, passive: true }).finish();
    const finish = client.encodeFrame(proto.HandshakeMessage.encode({ clientFinish: { static: keyEnc, payload: client.encrypt(payload) } }).finish());
    await client.finishInit();
    const [finishFrame] = reader.push(finish);
    const result = server.readFinish(finishFrame!);
    expect(result.clientStaticKey.equals(noiseKey.public)).toBe(true);
    expect(proto.ClientPayload.decode(result.clientPayload).device).toBe(3);

    const fromServer: BinaryNode = { tag: 'success', attrs: { t: '1' } };
    const received: BinaryNode[] = [];
    await client.decodeFrame(encodeFrame(result.transport.encrypt(encodeBinaryNode(fromServer))), (frame) => {
      received.push(frame as BinaryNode);
    });
    expect(received).toEqual([fromServer]);

    for (const id of ['a', 'b']) {
      const [frame] = reader.push(client.encodeFrame(encodeBinaryNode({ tag: 'iq', attrs: { id } })));
      expect((await decodeBinaryNode(result.transport.decrypt(frame!))).attrs.id).toBe(id);
    }
  });

  it('signs the certificate chain with the sandbox root', () => {
    const chain = proto.CertChain.decode(buildCertChain(SERVER_STATIC_KEY_PAIR.public, 1_700_000_000));
    const intermediate = proto.CertChain.NoiseCertificate.Details.decode(chain.intermediate!.details!);
    expect(intermediate.issuerSerial).toBe(0);
    expect(verify(SANDBOX_ROOT_PUBLIC_KEY, chain.intermediate!.details!, chain.intermediate!.signature!)).toBe(true);
    expect(verify(intermediate.key!, chain.leaf!.details!, chain.leaf!.signature!)).toBe(true);
    const leaf = proto.CertChain.NoiseCertificate.Details.decode(chain.leaf!.details!);
    expect(Buffer.from(leaf.key!).equals(SERVER_STATIC_KEY_PAIR.public)).toBe(true);
    expect(Buffer.from(SANDBOX_ROOT_PUBLIC_KEY).equals(keyPairFromSeed('wa-presence sandbox root key v1').public)).toBe(true);
  });

  it('verifies XEdDSA signatures strictly', () => {
    const pair = generateKeyPair();
    const signature = sign(pair.private, Buffer.from('presence'));
    expect(verify(pair.public, Buffer.from('presence'), signature)).toBe(true);
    expect(verify(pair.public, Buffer.from('presencf'), signature)).toBe(false);
    expect(verify(generateKeyPair().public, Buffer.from('presence'), signature)).toBe(false);
  });

  it('rejects out-of-order and garbage handshake frames', () => {
    const { server } = handshake();
    expect(() => server.readFinish(Buffer.from([1, 2, 3]))).toThrow(HandshakeError);
    expect(() => server.readHello(Buffer.from([0xff, 0xff, 0xff]))).toThrow(HandshakeError);
    const other = handshake();
    expect(() => other.server.readHello(proto.HandshakeMessage.encode({ clientHello: { ephemeral: Buffer.alloc(5) } }).finish())).toThrow(/32-byte/);
  });
});

describe('frame reader', () => {
  it('cuts frames across arbitrary chunk boundaries, after an edge-routing prefix', () => {
    const reader = createFrameReader(100);
    const routing = Buffer.from([0x45, 0x44, 0, 1, 0, 0, 2, 9, 9]);
    const stream = Buffer.concat([routing, NOISE_WA_HEADER, encodeFrame(Buffer.from('one')), encodeFrame(Buffer.from('two'))]);
    const frames: string[] = [];
    for (const byte of stream) frames.push(...reader.push(Buffer.from([byte])).map((f) => f.toString()));
    expect(frames).toEqual(['one', 'two']);
  });

  it('rejects a wrong intro, an oversized frame and an empty frame', () => {
    expect(() => createFrameReader(100).push(Buffer.from('GET / HTTP/1.1'))).toThrow(FrameError);
    expect(() => createFrameReader(100).push(Buffer.concat([NOISE_WA_HEADER, Buffer.from([0, 1, 0])]))).toThrow(/exceeds the limit/);
    expect(() => createFrameReader(100).push(Buffer.concat([NOISE_WA_HEADER, Buffer.from([0, 0, 0])]))).toThrow(/empty/);
  });
});
