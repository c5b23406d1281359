// The daemon's settings live in ConveyorConfig (pure, so Fuzz/ can fuzz the reader); the daemon's
// users and tests get them with `import ConveyorDaemon`, as before the split.
@_exported import ConveyorConfig
