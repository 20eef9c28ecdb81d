import type { NextConfig } from "next";

// A static export (ui/out): the gateway serves it in embedded mode, ui/server.mjs in its own container.
const config: NextConfig = {
  output: "export",
  trailingSlash: false,
  reactStrictMode: true,
  poweredByHeader: false,
  images: { unoptimized: true },
  devIndicators: false,
};

export default config;
