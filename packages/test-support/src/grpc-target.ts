/** grpc-js spells a Unix socket target `unix:/path`; the sidecar prints `unix:///path`. TCP stays host:port. */
export function grpcTarget(address: string): string {
  return address.startsWith('unix://') ? `unix:${address.slice('unix://'.length)}` : address
}
