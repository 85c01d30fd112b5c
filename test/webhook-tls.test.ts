import * as tls from 'node:tls';
import {
  AdmissionregistrationV1Api,
  CoreV1Api,
  type V1ValidatingWebhookConfiguration,
} from '@kubernetes/client-node';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { jsonLogger } from '../core/log.ts';
import { decodeCaBundle, splitPemBundle } from '../tls/material.ts';
import { selfManagedCertificateSource } from '../tls/self-managed-source.ts';
import { serveHttps } from '../tls/serving.ts';
import { eventually, kubeClient, uniqueNamespace } from './support/cluster.ts';

/** What a TLS client sees on the webhook's port: the leaf's serial and its issuer (the CA). */
interface Served {
  serial: string;
  issuer: string;
}

/** The certificate presented on a fresh connection to 127.0.0.1:port. */
function served(port: number): Promise<Served> {
  return new Promise((resolve, reject) => {
    // Trust is the API server's job in this test; here we only look at what is presented.
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const cert = socket.getPeerCertificate();
      resolve({ serial: cert.serialNumber, issuer: String(cert.issuer.CN) });
      socket.end();
    });
    socket.once('error', reject);
  });
}

/** An allow-all validating webhook that counts the AdmissionReviews it answers. */
function allowAllWebhook() {
  const counter = { calls: 0 };
  const app = express();
  app.use(express.json());
  app.post('/validate', (req, res) => {
    counter.calls++;
    const uid = (req.body as { request?: { uid?: string } }).request?.uid;
    res.json({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid, allowed: true },
    });
  });
  return { app, counter };
}

/** A Fail-closed webhook on ConfigMap creation in `namespace` only, with no caBundle yet. */
function webhookConfiguration(
  name: string,
  namespace: string,
  port: number,
): V1ValidatingWebhookConfiguration {
  return {
    metadata: { name },
    webhooks: [
      {
        name: 'allow-all.tls-test.genome.mathison.io',
        clientConfig: { url: `https://127.0.0.1:${port}/validate` },
        rules: [
          {
            operations: ['CREATE'],
            apiGroups: [''],
            apiVersions: ['v1'],
            resources: ['configmaps'],
          },
        ],
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
        failurePolicy: 'Fail',
        sideEffects: 'None',
        timeoutSeconds: 5,
        admissionReviewVersions: ['v1'],
      },
    ],
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the self-managed webhook certificate', () => {
  it('rotates serving certificates and the CA in a running server without failing one admission', async () => {
    const namespace = await uniqueNamespace('webhook-tls');
    const configName = `genome-tls-test-${namespace}`;
    const kc = kubeClient();
    const core = kc.makeApiClient(CoreV1Api);
    const admission = kc.makeApiClient(AdmissionregistrationV1Api);
    const logs: string[] = [];
    const source = selfManagedCertificateSource({
      kubeConfig: kc,
      namespace,
      secretName: 'webhook-tls',
      validatingWebhooks: [configName],
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      caValidityMs: 40_000,
      servingValidityMs: 12_000,
      renewFraction: 1 / 3,
      gracePeriodMs: 1_000,
      checkIntervalMs: 300,
      logger: jsonLogger((line) => logs.push(line)),
    });
    const { app, counter } = allowAllWebhook();
    const createConfigMap = (i: number) =>
      core.createNamespacedConfigMap({
        namespace,
        body: { metadata: { name: `cm-${i}` }, data: { i: String(i) } },
      });
    const bundleSize = async () => {
      const config = await admission.readValidatingWebhookConfiguration({ name: configName });
      return splitPemBundle(decodeCaBundle(config.webhooks?.[0]?.clientConfig.caBundle)).length;
    };

    await source.start();
    const serving = await serveHttps(app, source, { host: '127.0.0.1', port: 0 });
    try {
      await admission.createValidatingWebhookConfiguration({
        body: webhookConfiguration(configName, namespace, serving.port),
      });
      // The source finds the configuration on its next check and fills in the caBundle.
      await eventually('the caBundle to be published', async () =>
        (await bundleSize()) === 1 ? true : undefined,
      );
      // The API server calls the webhook once its informer has the configuration with the caBundle.
      let i = 0;
      await eventually('the API server to call the webhook', async () => {
        await createConfigMap(i++).catch(() => undefined);
        return counter.calls > 0 ? true : undefined;
      });

      const began = Date.now();
      const callsBefore = counter.calls;
      const serials = new Set<string>();
      const issuers = new Set<string>();
      let overlap = false;
      let droppedAfterOverlap = false;
      let creates = 0;
      while (!(serials.size > 1 && issuers.size > 1 && droppedAfterOverlap)) {
        if (Date.now() - began > 45_000) break;
        try {
          await createConfigMap(i++);
        } catch (err) {
          throw new Error(
            `ConfigMap create ${creates + 1} was refused: ${String(err)}\n${logs.slice(-15).join('')}`,
            { cause: err },
          );
        }
        creates++;
        const now = await served(serving.port);
        serials.add(now.serial);
        issuers.add(now.issuer);
        const size = await bundleSize();
        if (size === 2) overlap = true;
        if (overlap && size === 1) droppedAfterOverlap = true;
        await sleep(150);
      }
      const seconds = ((Date.now() - began) / 1000).toFixed(1);
      const summary = {
        seconds,
        creates,
        serials: serials.size,
        issuers: [...issuers],
        overlap,
        droppedAfterOverlap,
      };

      expect(summary, logs.slice(-15).join('')).toMatchObject({
        overlap: true,
        droppedAfterOverlap: true,
      });
      expect(serials.size, JSON.stringify(summary)).toBeGreaterThan(1);
      expect(issuers.size, JSON.stringify(summary)).toBeGreaterThan(1);
      // Every create reached the webhook: none was let through for want of a configuration.
      expect(counter.calls - callsBefore).toBeGreaterThanOrEqual(creates);
      expect(source.isValid()).toBe(true);
    } finally {
      // Cluster-scoped and Fail-closed: it must not outlive the test.
      await admission
        .deleteValidatingWebhookConfiguration({ name: configName })
        .catch(() => undefined);
      source.stop();
      await serving.close();
    }
  });
});
