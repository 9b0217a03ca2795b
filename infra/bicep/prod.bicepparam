// A production deployment: zone-redundant where Azure offers it, a general-purpose database with a standby in another
// zone and 35 days of point-in-time restore, purge-protected Key Vault (see docs/azure.md, "Sizes and costs").
// The database password comes from the environment, never from this file:
//   A67_POSTGRES_ADMIN_PASSWORD='…' A67_IMAGE=… az deployment group create -g RG --parameters infra/bicep/prod.bicepparam
using 'main.bicep'

param name = 'a67prod'
param image = readEnvironmentVariable('A67_IMAGE')
param registryName = readEnvironmentVariable('A67_REGISTRY', '')
param cpu = '1.0'
param memory = '2Gi'
// One replica until the control plane's keys are shared between replicas (docs/azure.md, "Not yet supported"):
// today each replica would sign tokens and commands with keys of its own. A new revision still starts and becomes
// ready before the old one stops, so an upgrade keeps serving.
param minReplicas = 1
param maxReplicas = 1
param zoneRedundant = true
param postgres = {
  version: '16'
  skuName: 'Standard_D2ds_v5'
  skuTier: 'GeneralPurpose'
  storageSizeGB: 128
  backupRetentionDays: 35
  geoRedundantBackup: true
  zoneRedundantHa: true
}
param postgresAdminPassword = readEnvironmentVariable('A67_POSTGRES_ADMIN_PASSWORD')
// Empty: the generated name. After a point-in-time restore, the restored server's name (docs/backup.md).
param postgresServerName = readEnvironmentVariable('A67_POSTGRES_SERVER', '')
param storageSku = 'Standard_ZRS'
param keyVaultPurgeProtection = true
param logRetentionDays = 90
param logDailyQuotaGb = -1
param settings = {
  Auth__AllowSignup: 'false'
}
param tags = {
  application: 'automator67'
  environment: 'prod'
}
