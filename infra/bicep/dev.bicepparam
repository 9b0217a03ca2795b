// A small, cheap deployment to try Automator67 in Azure (see docs/azure.md, "Sizes and costs").
// The database password comes from the environment, never from this file:
//   A67_POSTGRES_ADMIN_PASSWORD='…' A67_IMAGE=… az deployment group create -g RG --parameters infra/bicep/dev.bicepparam
using 'main.bicep'

param name = 'a67dev'
param image = readEnvironmentVariable('A67_IMAGE')
param registryName = readEnvironmentVariable('A67_REGISTRY', '')
param cpu = '0.5'
param memory = '1Gi'
param minReplicas = 1
param maxReplicas = 1
param zoneRedundant = false
param postgres = {
  version: '16'
  skuName: 'Standard_B1ms'
  skuTier: 'Burstable'
  storageSizeGB: 32
  backupRetentionDays: 7
  geoRedundantBackup: false
  zoneRedundantHa: false
}
param postgresAdminPassword = readEnvironmentVariable('A67_POSTGRES_ADMIN_PASSWORD')
// Empty: the generated name. After a point-in-time restore, the restored server's name (docs/backup.md).
param postgresServerName = readEnvironmentVariable('A67_POSTGRES_SERVER', '')
param storageSku = 'Standard_LRS'
param keyVaultPurgeProtection = false
param logRetentionDays = 30
param logDailyQuotaGb = 1
param tags = {
  application: 'automator67'
  environment: 'dev'
}
