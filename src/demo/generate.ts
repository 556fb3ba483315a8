/**
 * A deterministic simulation of the freelance marketplace (same seed → same events) that
 * knows its ground truth: while emitting events it records, per freelancer, when sign-up
 * completed, when proposals arrived and when missions completed, and from that computes the
 * expected `freelancer_activation` funnel (strict order, 90-day window, over Balise's default
 * range: the last 90 days up to the day the simulation ends).
 *
 * Every event is valid against tracking-plan/ (ids match their patterns, enums are respected),
 * so nothing lands in quarantine. Sign-up happens anonymously and is followed by identify, so
 * the headline funnel only adds up with identity stitching.
 */
import type { JsonObject } from '../types.ts';
import { DEFAULT_RANGE_DAYS, defaultRangeMs } from '../util/default-range.ts';
import { createRng, type Rng } from './prng.ts';

export interface DemoCall {
  type: 'track' | 'identify' | 'page';
  /** Event name (track) or page name (page). */
  event: string;
  userId?: string;
  anonymousId?: string;
  properties?: JsonObject;
  traits?: JsonObject;
  /** Epoch milliseconds. */
  timestamp: number;
  messageId: string;
}

export interface DemoTruth {
  funnel: 'freelancer_activation';
  windowDays: number;
  /** Balise's default range on the day the simulation ends (the day the demo runs). */
  range: string;
  /** First entry counted (epoch ms): the start of that default range. */
  fromMs: number;
  entered: number;
  receivedProposal: number;
  completedMission: number;
  freelancers: number;
  companies: number;
  missions: number;
}

export interface MarketplaceOptions {
  seed: number;
  freelancers: number;
  /** The simulation ends here (epoch ms, default: today 00:00 UTC); no event is later. */
  endMs?: number;
  /** How many days of history to simulate. */
  days?: number;
}

export interface Marketplace {
  events: DemoCall[];
  truth: DemoTruth;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
export const ACTIVATION_WINDOW_DAYS = 90;
const WINDOW = ACTIVATION_WINDOW_DAYS * DAY;

const TECH = ['fullstack', 'front', 'back', 'devops', 'mobile'] as const;
const DATA = ['data_science', 'data_engineering', 'bi', 'big_data', 'web_analytics'] as const;
const CATEGORIES = [...TECH, ...DATA] as const;
const SKILLS: Record<string, string[]> = {
  fullstack: ['typescript', 'react', 'node', 'postgres'],
  front: ['react', 'vue', 'css', 'accessibility'],
  back: ['java', 'go', 'python', 'kafka'],
  devops: ['kubernetes', 'terraform', 'aws', 'gcp'],
  mobile: ['swift', 'kotlin', 'flutter', 'react_native'],
  data_science: ['python', 'pytorch', 'statistics', 'sql'],
  data_engineering: ['spark', 'airflow', 'dbt', 'sql'],
  bi: ['power_bi', 'tableau', 'sql', 'looker'],
  big_data: ['hadoop', 'spark', 'scala', 'kafka'],
  web_analytics: ['ga4', 'piano', 'tag_manager', 'sql'],
};
const METHODS = ['email', 'google', 'linkedin', 'github'] as const;
const CHANNELS = ['seo', 'sea', 'social', 'referral', 'direct', 'newsletter'] as const;
const REMOTE = ['remote', 'hybrid', 'on_site'] as const;
const DECLINE = ['rate_too_low', 'not_available', 'skills_mismatch', 'location', 'mission_too_short', 'other'] as const;
const INDUSTRIES = ['fintech', 'retail', 'energy', 'media', 'health', 'insurance', 'transport'];

interface Freelancer {
  id: string;
  anonymousId: string;
  community: 'tech' | 'data';
  category: string;
  signupAt: number;
  proposals: number[];
  completions: number[];
}

interface Company {
  id: string;
  size: 'startup' | 'scaleup' | 'large_group';
  signupAt: number;
}

function id(prefix: string, n: number): string {
  return `${prefix}${n.toString(36).padStart(5, '0')}`;
}

/** Keeps event times away from the activation deadline, where a few ms of ingest clock-skew correction could flip a verdict. */
function clearOfDeadline(t: number, signupAt: number): number {
  const deadline = signupAt + WINDOW;
  return Math.abs(t - deadline) < HOUR ? deadline + 2 * HOUR : t;
}

export function generateMarketplace(options: MarketplaceOptions): Marketplace {
  const rng: Rng = createRng(options.seed);
  const endMs = options.endMs ?? Math.floor(Date.now() / DAY) * DAY;
  const days = options.days ?? 180;
  const startMs = endMs - days * DAY;
  const lastMs = endMs - HOUR; // nothing later than this is emitted
  const events: DemoCall[] = [];
  let seq = 0;
  const emit = (call: Omit<DemoCall, 'messageId'>): void => {
    if (call.timestamp > lastMs) return;
    events.push({ ...call, timestamp: Math.round(call.timestamp), messageId: `demo-${options.seed}-${(seq++).toString(36)}` });
  };

  // Freelancers: sign-ups spread over the period, growing slowly (more recent sign-ups).
  const freelancers: Freelancer[] = [];
  for (let i = 0; i < options.freelancers; i++) {
    const community = rng.chance(0.6) ? 'tech' : 'data';
    const category = rng.pick(community === 'tech' ? TECH : DATA);
    const signupAt = startMs + Math.sqrt(rng.next()) * (days - 2) * DAY + rng.int(8, 20) * HOUR;
    const f: Freelancer = { id: id('fr_', i + 1), anonymousId: `anon-${options.seed}-${i + 1}`, community, category, signupAt, proposals: [], completions: [] };
    freelancers.push(f);
    const method = rng.pick(METHODS);
    const visitAt = signupAt - rng.int(30, 600) * 60_000 - rng.int(0, 3) * DAY;
    emit({ type: 'page', event: 'mission_list', anonymousId: f.anonymousId, properties: { category, results_count: rng.int(5, 120) }, timestamp: visitAt });
    const startAt = signupAt - rng.int(5, 25) * 60_000;
    emit({ type: 'track', event: 'freelancer_signup_started', anonymousId: f.anonymousId, properties: { signup_method: method, referrer_channel: rng.pick(CHANNELS) }, timestamp: startAt });
    ['account', 'identity', 'expertise', 'preferences'].forEach((step, k) => {
      emit({
        type: 'track',
        event: 'freelancer_signup_step_completed',
        anonymousId: f.anonymousId,
        properties: { step, step_index: k + 1, duration_ms: rng.int(20_000, 240_000) },
        timestamp: startAt + (k + 1) * 60_000,
      });
    });
    // Completed before identify: only identity stitching ties it to the later proposals.
    emit({ type: 'track', event: 'freelancer_signup_completed', anonymousId: f.anonymousId, properties: { freelancer_id: f.id, community, signup_method: method }, timestamp: signupAt });
    emit({
      type: 'identify',
      event: '',
      userId: f.id,
      anonymousId: f.anonymousId,
      traits: { role: 'freelancer', community, category, created_at: new Date(signupAt).toISOString() },
      timestamp: signupAt + 1000,
    });
    if (rng.chance(0.85)) {
      emit({
        type: 'track',
        event: 'freelancer_profile_completed',
        userId: f.id,
        properties: {
          freelancer_id: f.id,
          skills: [...(SKILLS[category] ?? ['sql'])].slice(0, rng.int(2, 4)),
          community,
          category,
          daily_rate: rng.int(35, 110) * 10,
          remote_preference: rng.pick(REMOTE),
          available_from: new Date(signupAt + rng.int(0, 60) * DAY).toISOString().slice(0, 10),
        },
        timestamp: signupAt + rng.int(1, 72) * HOUR,
      });
    }
    if (rng.chance(0.3)) {
      emit({ type: 'track', event: 'freelancer_availability_updated', userId: f.id, properties: { freelancer_id: f.id, available: rng.chance(0.7) }, timestamp: signupAt + rng.int(3, 60) * DAY });
    }
  }

  // Companies and their missions.
  const companyCount = Math.max(5, Math.round(options.freelancers / 12));
  const companies: Company[] = [];
  for (let i = 0; i < companyCount; i++) {
    const c: Company = {
      id: id('cmp_', i + 1),
      size: rng.weighted([
        ['startup', 5],
        ['scaleup', 3],
        ['large_group', 2],
      ] as const),
      signupAt: startMs - 30 * DAY + rng.next() * (days * DAY),
    };
    companies.push(c);
    emit({ type: 'track', event: 'company_signed_up', userId: c.id, properties: { company_id: c.id, company_size: c.size, industry: rng.pick(INDUSTRIES) }, timestamp: c.signupAt });
  }
  const byCategory = new Map<string, Freelancer[]>(CATEGORIES.map((cat) => [cat, freelancers.filter((f) => f.category === cat).sort((a, b) => a.signupAt - b.signupAt)]));
  const missionCount = Math.round(options.freelancers * 0.6);
  let missions = 0;
  for (let m = 0; m < missionCount; m++) {
    const company = rng.pick(companies);
    const postedAt = Math.max(company.signupAt + DAY, startMs) + rng.next() * days * DAY;
    if (postedAt > lastMs) continue;
    missions++;
    const missionId = id('msn_', m + 1);
    const category = rng.pick(CATEGORIES);
    const remote = rng.pick(REMOTE);
    const durationDays = rng.int(10, 120);
    emit({
      type: 'track',
      event: 'mission_posted',
      userId: company.id,
      properties: { mission_id: missionId, company_id: company.id, category, remote, daily_rate_max: rng.int(40, 120) * 10, duration_days: durationDays },
      timestamp: postedAt,
    });
    // The matching engine favours freelancers of the category who signed up recently.
    const pool = (byCategory.get(category) ?? []).filter((f) => f.signupAt < postedAt - HOUR && f.signupAt > postedAt - 75 * DAY);
    const count = Math.min(pool.length, rng.int(3, 7));
    const chosen = new Set<Freelancer>();
    for (let k = 0; k < count * 3 && chosen.size < count; k++) chosen.add(pool[pool.length - 1 - (Math.floor(Math.abs(rng.exp(pool.length / 3))) % pool.length)] as Freelancer);
    let accepted: { freelancer: Freelancer; at: number } | undefined;
    for (const f of chosen) {
      const sentAt = clearOfDeadline(postedAt + rng.int(1, 48) * HOUR, f.signupAt);
      const score = Math.round((0.5 + rng.next() * 0.5) * 100) / 100;
      emit({
        type: 'track',
        event: 'mission_proposal_sent',
        userId: company.id,
        properties: { mission_id: missionId, freelancer_id: f.id, company_id: company.id, match_score: score },
        timestamp: sentAt,
      });
      const receivedAt = sentAt + rng.int(1, 30) * 60_000;
      if (receivedAt <= lastMs) f.proposals.push(receivedAt);
      emit({ type: 'track', event: 'mission_proposal_received', userId: f.id, properties: { mission_id: missionId, freelancer_id: f.id, category, match_score: score }, timestamp: receivedAt });
      if (rng.chance(0.1)) continue; // never answered
      const answerAt = receivedAt + rng.int(1, 72) * HOUR;
      const hours = Math.round((answerAt - receivedAt) / HOUR);
      if (!accepted && rng.chance(0.4)) {
        accepted = { freelancer: f, at: answerAt };
        emit({ type: 'track', event: 'mission_proposal_accepted', userId: f.id, properties: { mission_id: missionId, freelancer_id: f.id, hours_to_answer: hours }, timestamp: answerAt });
      } else {
        emit({ type: 'track', event: 'mission_proposal_declined', userId: f.id, properties: { mission_id: missionId, freelancer_id: f.id, reason: rng.pick(DECLINE) }, timestamp: answerAt });
      }
    }
    if (!accepted || !rng.chance(0.55)) continue;
    const f = accepted.freelancer;
    const startedAt = clearOfDeadline(accepted.at + rng.int(2, 14) * DAY, f.signupAt);
    const rate = rng.int(40, 110) * 10;
    emit({
      type: 'track',
      event: 'mission_started',
      userId: f.id,
      properties: { mission_id: missionId, freelancer_id: f.id, company_id: company.id, daily_rate: rate, start_date: new Date(startedAt).toISOString().slice(0, 10) },
      timestamp: startedAt,
    });
    if (!rng.chance(0.85)) continue;
    const completedAt = clearOfDeadline(startedAt + Math.min(durationDays, rng.int(10, 60)) * DAY, f.signupAt);
    if (completedAt > lastMs) continue;
    f.completions.push(completedAt);
    emit({
      type: 'track',
      event: 'mission_completed',
      userId: f.id,
      properties: { mission_id: missionId, freelancer_id: f.id, company_id: company.id, duration_days: Math.max(1, Math.round((completedAt - startedAt) / DAY)) },
      timestamp: completedAt,
    });
    for (const side of ['freelancer', 'company'] as const) {
      if (!rng.chance(0.75)) continue;
      emit({
        type: 'track',
        event: 'mission_rated',
        userId: side === 'freelancer' ? f.id : company.id,
        properties: {
          mission_id: missionId,
          rater_side: side,
          rating: rng.weighted([
            [5, 5],
            [4, 4],
            [3, 2],
            [2, 1],
            [1, 0.5],
          ] as const),
          comment_length: rng.int(0, 400),
        },
        timestamp: completedAt + rng.int(1, 96) * HOUR,
      });
    }
  }

  events.sort((a, b) => a.timestamp - b.timestamp || a.messageId.localeCompare(b.messageId));
  return { events, truth: activationTruth(freelancers, defaultRangeMs(endMs).fromMs, lastMs, companies.length, missions) };
}

/** The headline funnel as the simulation lived it: first proposal after sign-up within the window, then a completion after it. */
function activationTruth(freelancers: Freelancer[], fromMs: number, lastMs: number, companies: number, missions: number): DemoTruth {
  let entered = 0;
  let received = 0;
  let completed = 0;
  for (const f of freelancers) {
    // The funnel is read over the default range: entries before it are not in the answer.
    if (f.signupAt > lastMs || f.signupAt < fromMs) continue;
    entered++;
    const deadline = f.signupAt + WINDOW;
    const first = f.proposals.filter((t) => t > f.signupAt && t <= deadline).sort((a, b) => a - b)[0];
    if (first === undefined) continue;
    received++;
    if (f.completions.some((t) => t > first && t <= deadline)) completed++;
  }
  return {
    funnel: 'freelancer_activation',
    windowDays: ACTIVATION_WINDOW_DAYS,
    range: `last ${DEFAULT_RANGE_DAYS} days`,
    fromMs,
    entered,
    receivedProposal: received,
    completedMission: completed,
    freelancers: freelancers.length,
    companies,
    missions,
  };
}
