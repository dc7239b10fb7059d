import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderReport, type Series } from './report.ts';
import type { Journal } from './journal.ts';

const xml = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

export function junitXml(j: Journal): string {
  const failures = j.verifications.filter((v) => !v.ok).length + (j.status === 'completed' ? 0 : 1);
  const cases = j.verifications.map(
    (v) =>
      `    <testcase classname="faultline.drill.${xml(j.drill)}" name="${xml(v.name)}">${v.ok ? '' : `\n      <failure message="${xml(`expected ${v.expected}; observed ${v.observed}`)}"/>\n    `}</testcase>`,
  );
  for (const what of j.skipped) cases.push(`    <testcase classname="faultline.drill.${xml(j.drill)}" name="${xml(`skipped: ${what}`)}">\n      <skipped/>\n    </testcase>`);
  if (j.status !== 'completed') cases.unshift(`    <testcase classname="faultline.drill.${xml(j.drill)}" name="the drill ran to the end">\n      <failure message="${xml(`${j.status}: ${j.reason ?? ''}`)}"/>\n    </testcase>`);
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="${xml(j.drill)}" tests="${cases.length}" failures="${failures}" skipped="${j.skipped.length}" time="${(j.timings.durationMs / 1000).toFixed(1)}" timestamp="${j.startedAt}">
${cases.join('\n')}
  </testsuite>
</testsuites>
`;
}

export function summaryMarkdown(j: Journal): string {
  const mark = (ok: boolean) => (ok ? '✅' : '❌');
  const lines = [
    `### ${mark(j.verdict === 'pass')} drill \`${j.drill}\`: ${j.verdict.toUpperCase()} (${j.status}${j.reason ? `: ${j.reason}` : ''})`,
    '',
    `${(j.timings.durationMs / 1000).toFixed(1)} s on the ${j.platform} platform (${j.where})${j.timings.timeToRecoverMs !== undefined ? `; steady state back ${(j.timings.timeToRecoverMs / 1000).toFixed(1)} s after the last fault` : ''}.`,
    '',
    '| | verification | expected | observed |',
    '| --- | --- | --- | --- |',
    ...j.verifications.map((v) => `| ${mark(v.ok)} | ${v.name} | ${v.expected.replaceAll('|', '\\|')} | ${v.observed.replaceAll('|', '\\|')} |`),
    '',
  ];
  if (j.ledger) {
    const l = j.ledger;
    lines.push('| accepted | completed | lost | duplicated | unexpected | recovered | redelivered |', '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |', `| ${l.accepted} | ${l.completed} | ${l.lost} | ${l.duplicated} | ${l.unexpected} | ${l.recovered} | ${l.redelivered} |`, '');
  }
  if (j.faults.length) {
    lines.push('| fault | target | injected | recovered | took effect | evidence |', '| --- | --- | --- | --- | --- | --- |');
    for (const f of j.faults) lines.push(`| ${f.kind} | ${f.target} | ${f.injectedAt.slice(11, 23)} | ${f.recoveredAt?.slice(11, 23) ?? '—'} | ${mark(f.effective)} | ${f.summary.replaceAll('|', '\\|')} |`);
    lines.push('');
  }
  for (const a of j.adjustments) lines.push(`- On ${a.platform}, ${a.target}: \`${a.change}\` (${a.reason})`);
  for (const what of j.skipped) lines.push(`- Skipped: ${what}`);
  if (j.adjustments.length || j.skipped.length) lines.push('');
  return `${lines.join('\n')}\n`;
}

/** Writes journal.json, junit.xml, summary.md and report.html to `dir`. */
export function writeOutputs(dir: string, journal: Journal, series: Series[]) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'journal.json'), `${JSON.stringify(journal, null, 2)}\n`);
  writeFileSync(join(dir, 'junit.xml'), junitXml(journal));
  writeFileSync(join(dir, 'summary.md'), summaryMarkdown(journal));
  writeFileSync(join(dir, 'report.html'), renderReport(journal, series));
}
