/**
 * The day-one operators (Shell, Function, Http, HttpSensor, LakeKeySensor,
 * SqlSensor, TimeDeltaSensor, TimeSensor): what `sluice dags schema` says of
 * them, and the pure helpers of the Http operator.
 */
import { expect } from 'chai';
import { dagJsonSchema } from '../../../engine/dag/index.js';
import { TaskFailure } from '../../../engine/errors.js';
import { jsonPath, retryAfterMs } from '../../../operators/http/request.js';
import { defaultRegistry } from '../../../operators/index.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- walking an arbitrary JSON Schema
type Json = Record<string, any>;

describe('day-one operators', () => {
  it('sluice dags schema describes each of them with its parameters', () => {
    const schema = dagJsonSchema(defaultRegistry()) as Json;
    const alternatives = (schema.properties.tasks.additionalProperties.anyOf ??
      schema.properties.tasks.additionalProperties.oneOf) as Json[];
    const of = (name: string) => alternatives.find((a) => a.properties?.operator?.const === name)!;
    const expected: Record<string, string[]> = {
      Shell: ['command', 'env', 'append_env', 'cwd', 'exit_code_skip', 'output', 'kill_grace'],
      Function: ['module', 'export', 'args'],
      Http: ['http_connection', 'base_url', 'endpoint', 'method', 'headers_env', 'body', 'response_path', 'max_retries'],
      HttpSensor: ['http_connection', 'endpoint', 'response_path', 'poke_interval', 'timeout', 'soft_fail'],
      LakeKeySensor: ['key', 'prefix', 'glob', 'lake', 'min_size', 'min_objects', 'poke_interval', 'exponential_backoff'],
      SqlSensor: ['sql', 'connection', 'poke_interval', 'timeout', 'soft_fail', 'max_wait', 'mode'],
      TimeDeltaSensor: ['delta', 'poke_interval'],
      TimeSensor: ['target_time', 'timezone', 'poke_interval'],
    };
    for (const [name, params] of Object.entries(expected)) {
      const alt = of(name);
      expect(alt, name).to.be.an('object');
      expect(Object.keys(alt.properties), name).to.include.members(['operator', 'upstream', ...params]);
      for (const p of params) expect(alt.properties[p].description, `${name}.${p}`).to.be.a('string').and.not.equal('');
    }
    expect(of('Shell').required).to.include('command');
    expect(of('Function').required).to.include('module');
    expect(of('Http').properties.method.enum).to.deep.equal(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs('2')).to.equal(2_000);
    expect(retryAfterMs(' 0 ')).to.equal(0);
    const now = Date.parse('2024-01-01T00:00:00Z');
    expect(retryAfterMs('Mon, 01 Jan 2024 00:00:30 GMT', now)).to.equal(30_000);
    expect(retryAfterMs('Sun, 31 Dec 2023 23:00:00 GMT', now)).to.equal(0);
    expect(retryAfterMs('soon')).to.equal(null);
    expect(retryAfterMs(null)).to.equal(null);
  });

  it('follows JSON paths in their three spellings, and says where one breaks', () => {
    const doc = { data: { items: [{ id: 7 }, { 'a key': 'v' }] } };
    expect(jsonPath(doc, '$.data.items[0].id', 'GET x')).to.equal(7);
    expect(jsonPath(doc, 'data.items.1["a key"]', 'GET x')).to.equal('v');
    expect(jsonPath(doc, '$', 'GET x')).to.deep.equal(doc);
    expect(() => jsonPath(doc, '$.data.items[5]', 'GET x'))
      .to.throw(TaskFailure)
      .with.property('message', 'GET x: response_path $.data.items[5]: $.data.items has 2 items, no [5]');
    expect(() => jsonPath(doc, 'data.nope', 'GET x')).to.throw(/no 'nope' at \$\.data \(there: an object with keys items\)/);
    expect(() => jsonPath(doc, '$..[', 'GET x')).to.throw(/is not a JSON path/);
  });
});
