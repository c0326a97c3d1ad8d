import type { APIRequestContext } from '@playwright/test';
import * as crypto from 'node:crypto';

export type Role = 'viewer' | 'operator' | 'admin';

export interface User {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
}

export interface Integration {
  id: string;
  name: string;
  tool: string;
  urls: Record<string, string>;
  credentials: Record<string, string | { configured: boolean; updated_at?: string | null }>;
  status: string;
  version: number;
}

export interface Pipeline {
  id: string;
  integration_id: string;
  integration_name: string;
  name: string;
  full_path: string;
  folder: string;
  buildable: boolean;
  removed: boolean;
}

export interface Run {
  id: string;
  pipeline_path: string;
  integration_name: string;
  status: string;
  build_number: number | null;
  parameters: Record<string, unknown>;
  triggered_by: string;
}

/** The Jenkins simulator the global setup started (support/jenkins-sim.json). */
export function jenkinsSim(): { url: string; user: string; token: string } {
  const url = process.env.SWITCHBOARD_E2E_JENKINS_URL;
  if (!url) throw new Error('SWITCHBOARD_E2E_JENKINS_URL is not set: the global setup starts the Jenkins simulator');
  return { url, user: 'admin', token: process.env.SWITCHBOARD_E2E_JENKINS_TOKEN || '' };
}

/** The real Buildbot master the global setup started (buildbot-master; e2e/buildbot/master.cfg). */
export function buildbotMaster(): { url: string; user: string; password: string } {
  const url = process.env.SWITCHBOARD_E2E_BUILDBOT_URL;
  if (!url) throw new Error('SWITCHBOARD_E2E_BUILDBOT_URL is not set: the global setup starts the Buildbot master');
  return { url, user: 'admin', password: process.env.SWITCHBOARD_E2E_BUILDBOT_PASSWORD || '' };
}

export interface Tool {
  id: string;
  name: string;
  enabled: boolean;
}

export interface Answer<T = any> {
  status: number;
  body: T;
  text: string;
}

/** A unique suffix: tests create their own data with names no other test uses. */
export function uid(): string {
  return `${Date.now().toString(36)}${crypto.randomBytes(2).toString('hex')}`;
}

/** A secret that is easy to search for in a page, a storage dump or a response body. */
export function secretToken(): string {
  return `tok${crypto.randomBytes(16).toString('hex')}`;
}

/** A thin client for the Switchboard REST API (see api-spec/openapi.json). */
export class Api {
  constructor(
    readonly request: APIRequestContext,
    readonly token: string,
  ) {}

  static async login(request: APIRequestContext, username: string, password: string): Promise<Api> {
    const response = await request.post('/api/v1/auth/login', { data: { username, password } });
    if (response.status() !== 200) {
      throw new Error(`sign-in as ${username} answered ${response.status()}: ${await response.text()}`);
    }
    const body = await response.json();
    return new Api(request, body.access_token);
  }

  async call<T = any>(method: string, url: string, data?: unknown, headers: Record<string, string> = {}): Promise<Answer<T>> {
    const response = await this.request.fetch(url, {
      method,
      data: data === undefined ? undefined : data,
      headers: { authorization: `Bearer ${this.token}`, ...headers },
      failOnStatusCode: false,
    });
    const text = await response.text();
    let body: any = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    return { status: response.status(), body, text };
  }

  private async ok<T>(method: string, url: string, data: unknown, want: number): Promise<T> {
    const answer = await this.call<T>(method, url, data);
    if (answer.status !== want) {
      throw new Error(`${method} ${url} answered ${answer.status} (wanted ${want}): ${answer.text.slice(0, 500)}`);
    }
    return answer.body;
  }

  async createUser(username: string, password: string, role: Role): Promise<User> {
    return this.ok('POST', '/api/v1/users', { username, password, role }, 201);
  }

  async listUsers(): Promise<User[]> {
    const items: User[] = [];
    let cursor: string | null = null;
    do {
      const page: any = await this.ok('GET', `/api/v1/users?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, undefined, 200);
      items.push(...page.items);
      cursor = page.next_cursor ?? null;
    } while (cursor);
    return items;
  }

  async findUser(username: string): Promise<User | undefined> {
    return (await this.listUsers()).find((u) => u.username === username.toLowerCase());
  }

  async updateUser(id: string, patch: { role?: Role; disabled?: boolean; password?: string }): Promise<User> {
    return this.ok('PATCH', `/api/v1/users/${id}`, patch, 200);
  }

  async createJenkins(name: string, opts: { apiUrl?: string; username?: string; apiToken?: string; extraUrls?: Record<string, string> } = {}): Promise<Integration> {
    return this.ok(
      'POST',
      '/api/v1/integrations',
      {
        name,
        tool: 'jenkins',
        urls: { apiUrl: opts.apiUrl ?? 'https://jenkins.example.com/', ...(opts.extraUrls ?? {}) },
        credentials: { username: opts.username ?? 'alice', apiToken: opts.apiToken ?? secretToken() },
      },
      201,
    );
  }

  /** A Jenkins integration of the simulator (a wrong token with `token`). */
  async createSimJenkins(name: string, token?: string): Promise<Integration> {
    const sim = jenkinsSim();
    return this.createJenkins(name, { apiUrl: sim.url, username: sim.user, apiToken: token ?? sim.token });
  }

  async updateIntegration(id: string, patch: unknown): Promise<Integration> {
    return this.ok('PATCH', `/api/v1/integrations/${id}`, patch, 200);
  }

  /** The pipelines of one integration (removed ones left out). */
  async pipelinesOf(integrationId: string): Promise<Pipeline[]> {
    const page: any = await this.ok('GET', `/api/v1/pipelines?integration_id=${integrationId}&limit=200`, undefined, 200);
    return page.items;
  }

  /** Waits until the background discovery found `count` pipelines of the integration. */
  async waitForPipelines(integrationId: string, count: number, timeoutMs = 20_000): Promise<Pipeline[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const items = await this.pipelinesOf(integrationId);
      if (items.length >= count) return items;
      if (Date.now() > deadline) throw new Error(`only ${items.length} of ${count} pipelines after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async triggerRun(pipelineId: string, parameters: Record<string, unknown> = {}): Promise<Run> {
    return this.ok('POST', `/api/v1/pipelines/${pipelineId}/runs`, { parameters }, 202);
  }

  async getRun(id: string): Promise<Run> {
    return this.ok('GET', `/api/v1/runs/${id}`, undefined, 200);
  }

  async listIntegrations(q?: string): Promise<Integration[]> {
    const items: Integration[] = [];
    let cursor: string | null = null;
    do {
      const params = new URLSearchParams({ limit: '100' });
      if (q) params.set('q', q);
      if (cursor) params.set('cursor', cursor);
      const page: any = await this.ok('GET', `/api/v1/integrations?${params}`, undefined, 200);
      items.push(...page.items);
      cursor = page.next_cursor ?? null;
    } while (cursor);
    return items;
  }

  /** Integrations whose name equals `name` ignoring case (names are unique ignoring case). */
  async integrationsNamed(name: string): Promise<Integration[]> {
    return (await this.listIntegrations()).filter((i) => i.name.toLowerCase() === name.toLowerCase());
  }

  async getIntegration(id: string): Promise<Answer<Integration>> {
    return this.call('GET', `/api/v1/integrations/${id}`);
  }

  async deleteIntegration(id: string): Promise<number> {
    return (await this.call('DELETE', `/api/v1/integrations/${id}`)).status;
  }

  async tools(): Promise<Tool[]> {
    return (await this.ok<{ items: Tool[] }>('GET', '/api/v1/tools', undefined, 200)).items;
  }

  async setToolEnabled(id: string, enabled: boolean): Promise<Tool> {
    return this.ok('PATCH', `/api/v1/tools/${id}`, { enabled }, 200);
  }
}
