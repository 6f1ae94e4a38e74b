/** The comparison as a terminal table and as an SVG chart of the two modes side by side. */
import type { ModeResult } from './run-mode.js'

interface Row {
  readonly label: string
  readonly direct: number | undefined
  readonly sidecar: number | undefined
  /** How to read the ratio: 'lower' when smaller is better. */
  readonly better: 'higher' | 'lower' | 'none'
}

function rows(direct: ModeResult, sidecar: ModeResult): Row[] {
  return [
    {
      label: 'peak broker connections',
      direct: direct.peakBrokerConnections,
      sidecar: sidecar.peakBrokerConnections,
      better: 'lower',
    },
    { label: 'records/s', direct: direct.recordsPerSec, sidecar: sidecar.recordsPerSec, better: 'higher' },
    { label: 'send latency p50 (ms)', direct: direct.p50Ms, sidecar: sidecar.p50Ms, better: 'lower' },
    { label: 'send latency p99 (ms)', direct: direct.p99Ms, sidecar: sidecar.p99Ms, better: 'lower' },
    { label: 'attempted', direct: direct.attempted, sidecar: sidecar.attempted, better: 'none' },
    { label: 'acked', direct: direct.acked, sidecar: sidecar.acked, better: 'none' },
    { label: 'lost (acked, not in Kafka)', direct: direct.lost, sidecar: sidecar.lost, better: 'none' },
    { label: 'duplicates', direct: direct.duplicates, sidecar: sidecar.duplicates, better: 'none' },
    {
      label: 'sent directly after fallback',
      direct: direct.fallbackRecords,
      sidecar: sidecar.fallbackRecords,
      better: 'none',
    },
    { label: 'sidecar CPU (% of a core)', direct: undefined, sidecar: sidecar.sidecarCpuPercent, better: 'none' },
    {
      label: 'CPU per record, workers (µs)',
      direct: direct.workersCpuUsPerRecord,
      sidecar: sidecar.workersCpuUsPerRecord,
      better: 'lower',
    },
    {
      label: 'CPU per record, sidecar (µs)',
      direct: undefined,
      sidecar: sidecar.sidecarCpuUsPerRecord,
      better: 'none',
    },
    { label: 'sidecar RSS peak (MB)', direct: undefined, sidecar: sidecar.sidecarRssMb, better: 'none' },
  ]
}

function format(x: number | undefined): string {
  if (x === undefined || Number.isNaN(x)) return '-'
  return Number.isInteger(x) ? x.toLocaleString('en-US') : x.toFixed(2)
}

function ratio(row: Row): string {
  if (row.better === 'none' || !row.direct || !row.sidecar) return ''
  if (row.better === 'higher') return `${(row.sidecar / row.direct).toFixed(2)}x`
  if (row.label.startsWith('peak')) return `${(row.direct / row.sidecar).toFixed(1)}x fewer`
  // A difference in the row's own unit: the latencies' ms, the CPU rows' µs.
  const unit = row.label.includes('(µs)') ? 'µs' : 'ms'
  return `${row.sidecar - row.direct >= 0 ? '+' : ''}${(row.sidecar - row.direct).toFixed(2)} ${unit}`
}

export function table(direct: ModeResult, sidecar: ModeResult): string {
  const data = rows(direct, sidecar)
  const width = Math.max(...data.map((r) => r.label.length))
  const lines = [`${''.padEnd(width)}  ${'direct'.padStart(12)}  ${'sidecar'.padStart(12)}  sidecar vs direct`]
  for (const row of data)
    lines.push(
      `${row.label.padEnd(width)}  ${format(row.direct).padStart(12)}  ${format(row.sidecar).padStart(12)}  ${ratio(row)}`,
    )
  return lines.join('\n')
}

const COLORS = { direct: '#8c96a8', sidecar: '#2f7de1' }

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!)
}

/** Four panels (connections, records/s, p50, p99), each with one bar per mode and its value. */
export function chart(direct: ModeResult, sidecar: ModeResult, title: string): string {
  const panels = rows(direct, sidecar).slice(0, 4)
  const panelWidth = 200
  const height = 300
  const barTop = 70
  const barBottom = 250
  const parts: string[] = []
  panels.forEach((panel, i) => {
    const x0 = 20 + i * (panelWidth + 20)
    const max = Math.max(panel.direct ?? 0, panel.sidecar ?? 0, 1e-9)
    parts.push(
      `<text x="${x0 + panelWidth / 2}" y="55" text-anchor="middle" font-size="13" font-weight="bold">${escapeXml(panel.label)}</text>`,
    )
    ;(['direct', 'sidecar'] as const).forEach((mode, j) => {
      const value = panel[mode] ?? 0
      const h = ((barBottom - barTop) * value) / max
      const x = x0 + 30 + j * 80
      parts.push(`<rect x="${x}" y="${barBottom - h}" width="60" height="${h}" fill="${COLORS[mode]}"/>`)
      parts.push(
        `<text x="${x + 30}" y="${barBottom - h - 5}" text-anchor="middle" font-size="12">${escapeXml(format(value))}</text>`,
      )
      parts.push(`<text x="${x + 30}" y="${barBottom + 16}" text-anchor="middle" font-size="12">${mode}</text>`)
    })
    parts.push(
      `<text x="${x0 + panelWidth / 2}" y="${barBottom + 36}" text-anchor="middle" font-size="12" fill="#444">${escapeXml(ratio(panel))}</text>`,
    )
  })
  const width = 20 + panels.length * (panelWidth + 20)
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="25" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(title)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n')
}
