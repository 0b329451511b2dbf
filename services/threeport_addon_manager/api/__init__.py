"""The addon-manager's gRPC servicers: AddonService, AddonInstallationService, AddonClaimService
(internal) and EventService."""
