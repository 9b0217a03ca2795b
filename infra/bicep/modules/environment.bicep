// The Container Apps environment: on the shared virtual network (so the app reaches the private PostgreSQL server),
// with a public ingress for the API, and the apps' console logs sent to Log Analytics.

param location string

@description('Name of the Container Apps environment.')
param environmentName string

@description('Subnet of the environment, delegated to Microsoft.App/environments.')
param infrastructureSubnetId string

@description('Spread the environment over availability zones (needs a region with zones).')
param zoneRedundant bool

@description('Log Analytics workspace that receives the console logs.')
param workspaceName string

@description('Tags of every resource.')
param tags { *: string }

resource workspace 'Microsoft.OperationalInsights/workspaces@2025-07-01' existing = {
  name: workspaceName
}

resource environment 'Microsoft.App/managedEnvironments@2026-01-01' = {
  name: environmentName
  location: location
  tags: tags
  properties: {
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
    vnetConfiguration: {
      infrastructureSubnetId: infrastructureSubnetId
      internal: false
    }
    zoneRedundant: zoneRedundant
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: {
        customerId: workspace.properties.customerId
        sharedKey: workspace.listKeys().primarySharedKey
      }
    }
  }
}

output environmentId string = environment.id
output defaultDomain string = environment.properties.defaultDomain
