"""The registry service: applications, environments, profiles and builds (schema `registry`)."""
