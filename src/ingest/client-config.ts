import type { Request } from 'express';
import type { JsonObject } from '../types.ts';
import { forwardedValue } from '../util/forwarded.ts';

/**
 * The settings the vendors' browser SDKs fetch before they send anything, served by Balise so
 * that pointing an SDK at Balise is a host setting, not a hand-written settings object.
 */

/**
 * The origin this request reached, as the browser sees it: a TLS proxy in front says https, and a
 * proxy that serves Balise under a path of its own (/balise/v1/…) says which in X-Forwarded-Prefix.
 */
function publicOrigin(req: Request): { host: string; protocol: 'http' | 'https' } {
  const forwarded = forwardedValue(req.headers['x-forwarded-proto']).toLowerCase();
  const protocol = forwarded === 'https' || forwarded === 'http' ? forwarded : req.protocol === 'https' ? 'https' : 'http';
  const prefix = forwardedValue(req.headers['x-forwarded-prefix']);
  const path = /^\/[A-Za-z0-9._~\-/]*$/.test(prefix) ? prefix.replace(/\/+$/, '') : '';
  return { host: `${req.headers.host ?? 'localhost'}${path}`, protocol };
}

/**
 * `GET /v1/projects/:writeKey/settings`: what `@segment/analytics-next` loads from its CDN
 * (`cdnURL` + this path). Only the Segment.io destination, pointed back at this server; remote
 * metrics off (sampleRate 0) since Balise has no metrics sink for them.
 */
export function segmentCdnSettings(req: Request, writeKey: string): JsonObject {
  const { host, protocol } = publicOrigin(req);
  return {
    integrations: { 'Segment.io': { apiKey: writeKey, apiHost: `${host}/v1`, protocol, unbundledIntegrations: [], addBundledMetadata: true } },
    plan: { track: { __default: { enabled: true, integrations: {} } }, identify: { __default: { enabled: true } }, group: { __default: { enabled: true } } },
    analyticsNextEnabled: true,
    middlewareSettings: {},
    enabledMiddleware: {},
    metrics: { sampleRate: 0 },
    legacyVideoPluginsEnabled: false,
    remotePlugins: [],
  };
}

/**
 * `GET /sourceConfig`: what `@rudderstack/analytics-js` v3 loads from `configUrl`. A source with
 * no device-mode destinations and the SDK's own error and metrics reporting off.
 */
export function rudderSourceConfig(source: string): JsonObject {
  return {
    isHosted: false,
    source: {
      id: source,
      name: source,
      workspaceId: 'balise',
      enabled: true,
      config: { statsCollection: { errors: { enabled: false }, metrics: { enabled: false } } },
      destinations: [],
    },
  };
}
