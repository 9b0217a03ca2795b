// Lets the control plane's identity pull images from an Azure Container Registry in this resource group (AcrPull).
// A separate module so that the container app is created only once the role exists: its first revision pulls at once.

@description('Name of the container registry (in this resource group).')
param registryName string

@description('Resource id of the control plane\'s managed identity (names the role assignment).')
param identityId string

@description('Principal id of that identity.')
param principalId string

var acrPull = '7f951dda-4ed3-4680-a7ca-43fe172d538d' // AcrPull: pull images, nothing else

resource registry 'Microsoft.ContainerRegistry/registries@2025-04-01' existing = {
  name: registryName
}

resource pullAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identityId, acrPull)
  scope: registry
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPull)
  }
}

output loginServer string = registry.properties.loginServer
