// Server metrics in the Prometheus text exposition format (version 0.0.4): counters, gauges read at scrape
// time, and cumulative histograms (le buckets, _sum, _count), as vLLM's /metrics names them where they overlap.

const fmt = (v: number) => (Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN');

export class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) { this.counts = buckets.map(() => 0); }
  observe(v: number): void {
    this.sum += v; this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${fmt(b)}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`, `${this.name}_sum ${fmt(this.sum)}`, `${this.name}_count ${this.count}`);
    return lines.join('\n');
  }
}

const LATENCY = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface Gauges { queueDepth: number; running: number; kvPagesUsed: number; kvPagesFree: number }

export class ServeMetrics {
  /** requests by endpoint and outcome (ok, error, cancelled, rejected). */
  private readonly requests = new Map<string, number>();
  promptTokens = 0;
  completionTokens = 0;
  readonly ttft = new Histogram('dsv3_time_to_first_token_seconds', 'Time from arrival to the first generated token.', LATENCY);
  readonly itl = new Histogram('dsv3_inter_token_latency_seconds', 'Time between two generated tokens of a request.', LATENCY);
  readonly e2e = new Histogram('dsv3_request_latency_seconds', 'Time from arrival to the end of a request.', LATENCY);
  readonly stepRows = new Histogram('dsv3_step_tokens', 'Tokens (rows) in one batched forward step.', [1, 2, 4, 8, 16, 32, 64, 128, 256]);

  request(endpoint: string, outcome: 'ok' | 'error' | 'cancelled' | 'rejected'): void {
    const k = `endpoint="${endpoint}",outcome="${outcome}"`;
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
  }

  render(g: Gauges): string {
    const out: string[] = [];
    const one = (name: string, type: 'counter' | 'gauge', help: string, v: number) => out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${fmt(v)}`);
    out.push('# HELP dsv3_requests_total Requests by endpoint and outcome.', '# TYPE dsv3_requests_total counter');
    for (const [k, v] of [...this.requests].sort()) out.push(`dsv3_requests_total{${k}} ${v}`);
    one('dsv3_prompt_tokens_total', 'counter', 'Prompt tokens of admitted requests.', this.promptTokens);
    one('dsv3_generation_tokens_total', 'counter', 'Generated tokens.', this.completionTokens);
    one('dsv3_queue_depth', 'gauge', 'Requests waiting for admission.', g.queueDepth);
    one('dsv3_requests_running', 'gauge', 'Requests prefilling or decoding.', g.running);
    one('dsv3_kv_pages_used', 'gauge', 'Pages of the paged latent KV cache in use (64 tokens each).', g.kvPagesUsed);
    one('dsv3_kv_pages_free', 'gauge', 'Free pages of the paged latent KV cache.', g.kvPagesFree);
    out.push(this.ttft.render(), this.itl.render(), this.e2e.render(), this.stepRows.render());
    return out.join('\n') + '\n';
  }
}
