// The virtual network the control plane and its database share: one subnet for the Container Apps environment, one
// delegated to PostgreSQL flexible server, and the private DNS zone through which the app finds the server. Nothing
// on this network is reachable from the internet except the app's ingress.

param location string

@description('Name of the virtual network.')
param vnetName string

@description('Address space of the virtual network.')
param addressPrefix string

@description('Subnet of the Container Apps environment (workload profiles: /27 or larger).')
param appsSubnetPrefix string

@description('Subnet delegated to PostgreSQL flexible server.')
param postgresSubnetPrefix string

@description('Private DNS zone of the PostgreSQL server; must end with .postgres.database.azure.com.')
param postgresDnsZoneName string

@description('Tags of every resource.')
param tags { *: string }

resource vnet 'Microsoft.Network/virtualNetworks@2025-07-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'apps'
        properties: {
          addressPrefix: appsSubnetPrefix
          delegations: [
            {
              name: 'container-apps'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'postgres'
        properties: {
          addressPrefix: postgresSubnetPrefix
          delegations: [
            {
              name: 'postgres-flexible-server'
              properties: {
                serviceName: 'Microsoft.DBforPostgreSQL/flexibleServers'
              }
            }
          ]
        }
      }
    ]
  }

  resource appsSubnet 'subnets' existing = {
    name: 'apps'
  }

  resource postgresSubnet 'subnets' existing = {
    name: 'postgres'
  }
}

resource postgresDnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: postgresDnsZoneName
  location: 'global'
  tags: tags
}

resource postgresDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: postgresDnsZone
  name: vnetName
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

output appsSubnetId string = vnet::appsSubnet.id
output postgresSubnetId string = vnet::postgresSubnet.id
// A module's outputs are known only once all of it is deployed: a server given this id waits for the zone's link too.
output postgresDnsZoneId string = postgresDnsZone.id
